# mneme sandbox prelude: reads the request, applies resource limits, writes the result document.
# It runs before any tool code, in the same interpreter, so the limits bind the tool too.
import json
import os
import resource
import sys


def _mneme_read_request():
    data = sys.stdin.buffer.read()
    # The tool gets an empty stdin: the protocol is not its business, and a tool calling
    # input() must see end-of-file rather than hang until the timeout.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return json.loads(data)


def _mneme_set_limits(limits):
    # Each entry is [name, soft, hard]. A hard limit below ours (set by whoever started the
    # server) wins: we may lower limits, never raise them. Failing here aborts the run, so tool
    # code never runs without its limits.
    for name, soft, hard in limits:
        which = getattr(resource, name, None)
        if which is None:
            continue
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def _mneme_write_result(path, doc):
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        text = json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
    # Lone surrogates (from bytes decoded with surrogateescape) cannot be UTF-8; replacing them
    # keeps the document readable by a strict JSON parser.
    data = text.encode("utf-8", "replace")
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as exc:
        # Typically RLIMIT_FSIZE: report that instead of losing the run.
        small = {"status": "error", "error": f"{type(exc).__name__}: could not write the result: {exc}"}
        with open(path, "wb") as out:
            out.write(json.dumps(small).encode("utf-8", "replace"))


def _mneme_finish(path, doc):
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    _mneme_write_result(path, doc)
    # Skip interpreter shutdown: atexit hooks and non-daemon threads of the tool must not
    # delay or change the outcome once the result is written.
    os._exit(0)
