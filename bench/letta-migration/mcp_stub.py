"""A tiny stdio MCP server for populate.py's MCP server entry (two tools).

Letta (and mneme) may start it to list its tools; nothing depends on it running."""
from mcp.server.fastmcp import FastMCP

app = FastMCP("bench-stub")


@app.tool()
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@app.tool()
def shout(text: str) -> str:
    """Upper-cases a text."""
    return text.upper()


if __name__ == "__main__":
    app.run()
