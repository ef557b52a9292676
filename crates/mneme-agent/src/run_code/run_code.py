# run_code's program, run by the tool sandbox like a user's tool: `run_code(code, language)`
# answers the JSON text Letta's run_code answers (results, logs, error). Python runs in this
# interpreter; other languages run as a child process of it, in the run's directory, when their
# interpreter is installed.
import ast
import contextlib
import io
import json
import os
import shutil
import subprocess
import traceback

_PATH = "/usr/local/bin:/usr/bin:/bin"
_INTERPRETERS = {
    "js": [["node"]],
    "ts": [["tsx"], ["ts-node"], ["deno", "run", "--quiet"]],
    "r": [["Rscript"]],
    # The JVM reserves its heap and code cache up front: small ones fit the sandbox's limit.
    "java": [["java", "-Xmx256m", "-XX:ReservedCodeCacheSize=64m",
              "-XX:CompressedClassSpaceSize=64m", "-Xss1m"]],
}
_FILES = {"js": "main.js", "ts": "main.ts", "r": "main.R", "java": "Main.java"}


def _failure(e):
    return {"name": type(e).__name__, "value": str(e), "traceback": traceback.format_exc()}


def _python(code):
    out, err = io.StringIO(), io.StringIO()
    results, error = [], None
    namespace = {"__name__": "__main__"}
    try:
        tree = ast.parse(code, "<code>", "exec")
        last = None
        # As a notebook cell: the value of a final expression is the cell's result.
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(body=tree.body.pop().value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(tree, "<code>", "exec"), namespace)
            if last is not None:
                value = eval(compile(last, "<code>", "eval"), namespace)
                if value is not None:
                    results.append(repr(value))
    except BaseException as e:  # SystemExit too: it is the code's own ending
        error = _failure(e)
    return results, out.getvalue(), err.getvalue(), error


def _external(code, language):
    found = [(shutil.which(c[0], path=_PATH), c) for c in _INTERPRETERS[language]]
    found = [(path, c) for path, c in found if path]
    if not found:
        names = ", ".join(c[0] for c in _INTERPRETERS[language])
        raise RuntimeError(
            f"no interpreter for language '{language}' on this server (looked for {names})"
        )
    path, command = found[0]
    source = os.path.join(os.getcwd(), _FILES[language])
    with open(source, "w", encoding="utf-8") as f:
        f.write(code)
    env = dict(os.environ, PATH=_PATH)
    done = subprocess.run([path, *command[1:], source], capture_output=True, text=True, env=env)
    error = None
    if done.returncode != 0:
        error = {"name": "ExitError", "value": f"exit status {done.returncode}",
                 "traceback": done.stderr}
    return [], done.stdout, done.stderr, error


def run_code(code, language):
    if language == "python":
        results, stdout, stderr, error = _python(code)
    elif language in _INTERPRETERS:
        results, stdout, stderr, error = _external(code, language)
    else:
        raise ValueError(
            f"unsupported language {language!r}; run_code runs python, js, ts, r and java"
        )
    answer = {
        "results": results,
        "logs": {"stdout": stdout.splitlines(keepends=True),
                 "stderr": stderr.splitlines(keepends=True)},
    }
    if error is not None:
        answer["error"] = error
    return json.dumps(answer, ensure_ascii=False)
