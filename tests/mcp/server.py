"""The MCP server the test suites talk to, written with the official Python SDK (mcp 2.x).

    python server.py                           # stdio
    python server.py --transport streamable-http
    python server.py --transport sse

The HTTP transports bind 127.0.0.1 on a free port and print `PORT <n>` on stdout once listening.
"""

import argparse
import os
import socket
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("mneme-test")


@app.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@app.tool()
def echo(text: str) -> str:
    """Returns the text it was given."""
    return text


@app.tool()
def fail(message: str) -> str:
    """Always raises, with the given message."""
    # ToolError: mcp 2.x shows the model only "Error executing tool fail" for other exceptions.
    raise ToolError(message)


@app.tool()
def env(name: str) -> str:
    """The value of an environment variable of this server, or <unset>."""
    return os.environ.get(name, "<unset>")


@app.tool()
def slow(seconds: float) -> str:
    """Sleeps, then answers."""
    time.sleep(seconds)
    return "done"


@app.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@app.tool()
def crash() -> str:
    """Kills this server without answering."""
    os._exit(3)


def serve_http(transport: str) -> None:
    import anyio
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    starlette = app.sse_app() if transport == "sse" else app.streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(starlette, log_level="warning"))

    async def main() -> None:
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        await server.serve(sockets=[sock])

    anyio.run(main)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="stdio", choices=["stdio", "sse", "streamable-http"])
    transport = parser.parse_args().transport
    if transport == "stdio":
        app.run()
    else:
        serve_http(transport)
    sys.exit(0)
