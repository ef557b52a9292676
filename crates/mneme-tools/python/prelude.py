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


# Landlock (Linux >= 5.13), through raw syscalls: the workspace forbids `unsafe` Rust, so the
# runner confines itself before any tool code runs, as it does for rlimits.
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_VERSION = 1
_LL_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_PR_SET_PDEATHSIG = 1
# Filesystem rights by the ABI that introduced them: 1 has bits 0-12, 2 adds REFER, 3 TRUNCATE,
# 5 IOCTL_DEV. Rights a file (not a directory) may carry: EXECUTE, WRITE, READ, TRUNCATE, IOCTL.
_LL_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_LL_FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)
_LL_READ = 1 | 4 | 8  # execute, read file, read directory


def _mneme_libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def _mneme_check(ctypes, ret, what):
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _mneme_landlock_abi():
    ctypes, libc = _mneme_libc()
    return libc.syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_LL_VERSION))


def _mneme_confine(spec):
    """Applies spec = {"read": [...], "write": [...], "network": "allow"|"namespace"|"landlock"}.

    Returns what is in force. Raises if any part cannot be applied: the caller then reports
    the failure and never runs the tool.
    """
    ctypes, libc = _mneme_libc()
    abi = _mneme_landlock_abi()
    if abi < 1:
        raise OSError(ctypes.get_errno(), "Landlock is not available in this kernel")
    handled_fs = _LL_FS_BY_ABI[max(k for k in _LL_FS_BY_ABI if k <= abi)]
    network = spec["network"]
    handled_net = 0
    if network == "landlock":
        if abi < 4:
            raise OSError(0, f"Landlock ABI {abi} cannot deny TCP (needs 4)")
        handled_net = 1 | 2  # BIND_TCP, CONNECT_TCP, with no rule allowing any port
    # Abstract unix sockets and signals to processes outside the sandbox (ABI 6).
    scoped = 1 | 2 if abi >= 6 else 0
    _mneme_check(ctypes, libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if network == "namespace":
        # A user namespace makes a private network namespace (only a down loopback) and a PID
        # namespace permitted without privileges, where the host allows user namespaces.
        flags = _CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWPID
        _mneme_check(ctypes, libc.unshare(flags), "unshare")

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]

    attr = Ruleset(handled_fs, handled_net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _mneme_check(ctypes, libc.syscall(_LL_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for paths, rights in ((spec["read"], _LL_READ), (spec["write"], handled_fs)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                try:
                    allowed = rights & handled_fs
                    if not os.path.isdir(path):
                        allowed &= _LL_FILE_RIGHTS
                    rule = PathBeneath(allowed, fd)
                    _mneme_check(ctypes, libc.syscall(_LL_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_LL_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock rule for {path}")
                finally:
                    os.close(fd)
        _mneme_check(ctypes, libc.syscall(_LL_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    if network == "namespace":
        _mneme_enter_pid_namespace(ctypes, libc)
    return {"abi": abi, "network": network}


def _mneme_enter_pid_namespace(ctypes, libc):
    """Continues in a child that is PID 1 of the new PID namespace; this process only waits.

    When PID 1 ends, the kernel kills everything else in the namespace, and PID 1 dies with
    this process (killed by the server's timeout): a tool's process that left the process group
    (setsid) cannot outlive the run.
    """
    import select
    import signal

    # PID 1 ignores signals it has no handler for, SIGXCPU from the CPU limit included: the
    # child turns it into an exit status that the parent turns back into the signal.
    xcpu_status = 128 + signal.SIGXCPU
    # The parent holds the write end: EOF on the read end means it is gone already (its PID
    # cannot be seen from inside the namespace).
    alive_r, alive_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(alive_w)
        _mneme_check(ctypes, libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0), "pdeathsig")
        if select.select([alive_r], [], [], 0)[0]:
            os._exit(1)
        os.close(alive_r)
        signal.signal(signal.SIGXCPU, lambda *_: os._exit(xcpu_status))
        return
    os.close(alive_r)
    # This process never returns: whatever happens here, it ends as the child did.
    try:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        # The server reads the signal (SIGXCPU means the CPU limit) from our own end.
        sig = -code if code < 0 else signal.SIGXCPU if code == xcpu_status else 0
        if sig:
            if sig != signal.SIGKILL:
                signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(code)
    finally:
        os._exit(1)
