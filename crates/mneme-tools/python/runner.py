
# mneme tool runner: executes the tool's source in a fresh module and calls one function with
# JSON arguments. The result goes to a file, never to stdout, so the tool's prints cannot be
# mistaken for (or forge) its result.
import linecache
import traceback
import types

_MNEME_FILENAME = "<tool>"
# The runner's own module: kept referenced once the tool's module takes the name __main__.
_MNEME_RUNNER = sys.modules["__main__"]


def _mneme_str(value):
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


def _mneme_success(value):
    # Letta hands the model a str and a dict as they are and str() of anything else (§6.2);
    # `result_str` carries that str() so the caller need not imitate Python's repr.
    text = None if isinstance(value, (str, dict)) else _mneme_str(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return {"status": "success", "result": _mneme_str(value), "result_str": None}
    return {"status": "success", "result": value, "result_str": text}


def _mneme_error(exc):
    message = _mneme_str(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _mneme_load(source):
    module = types.ModuleType("__main__")
    module.__file__ = _MNEME_FILENAME
    # Tracebacks show the tool's own lines, as they would for a file.
    linecache.cache[_MNEME_FILENAME] = (len(source), None, source.splitlines(True), _MNEME_FILENAME)
    # Letta runs tool source as a script, so `__name__ == "__main__"` holds; classes defined by
    # the tool are found by pickle and dataclasses through sys.modules.
    sys.modules["__main__"] = module
    exec(compile(source, _MNEME_FILENAME, "exec"), module.__dict__)
    return module


def _mneme_call(request):
    function = request["function"]
    try:
        module = _mneme_load(request["source"])
        func = module.__dict__.get(function)
        if not callable(func):
            return {"status": "error", "error": f"NameError: the tool source defines no function named '{function}'"}
        value = func(**request["args"])
        if hasattr(value, "__await__"):
            import asyncio

            async def _await(awaitable):
                return await awaitable

            value = asyncio.run(_await(value))
        return _mneme_success(value)
    except BaseException as exc:
        # The tool's author needs only their own frames, not the runner's (`-c` code is "<string>").
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb, file=sys.__stderr__)
        return {"status": "error", "error": _mneme_error(exc)}


def _mneme_main():
    request = _mneme_read_request()
    _mneme_set_limits(request["limits"])
    confine = request.get("confine")
    if confine:
        try:
            _mneme_confine(confine)
        except Exception as exc:
            # The probe succeeded, so this is unexpected; the tool never runs unconfined.
            doc = {"status": "error", "error": f"SandboxError: cannot confine the tool: {exc}"}
            _mneme_finish(request["result_path"], doc)
    doc = _mneme_call(request)
    _mneme_finish(request["result_path"], doc)


_mneme_main()
