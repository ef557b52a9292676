
# mneme tool schema: derives Letta's JSON schema for a tool from its source with Python's own
# ast module. The source is parsed, never executed. Google-style docstrings are read the way
# Letta's docstring_parser reads them (short/long description, Args entries, Examples).
import ast
import inspect
import re


class _MnemeInvalid(Exception):
    pass


_MNEME_RESERVED = ("self", "agent_state")
_MNEME_PRIMITIVES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_MNEME_SECTIONS = {
    "Arguments": "param", "Args": "param", "Parameters": "param", "Params": "param",
    "Raises": "raises", "Exceptions": "raises", "Except": "raises",
    "Attributes": "attribute", "Example": "examples", "Examples": "examples",
    "Returns": "returns", "Yields": "yields",
}
_MNEME_TITLES = re.compile(
    "^(" + "|".join(f"({t})" for t in _MNEME_SECTIONS) + "):[ \t\r\f\v]*$", re.M
)
_MNEME_TYPED_ARG = re.compile(r"\s*(.+?)\s*\(\s*(.*[^\s]+)\s*\)")


# ---- choosing the function -------------------------------------------------------------------

def _mneme_parse(source):
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").strip()
        detail = f": {text}" if text else ""
        raise _MnemeInvalid(f"syntax error at {where}: {exc.msg}{detail}")
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _MnemeInvalid(f"the source cannot be parsed: {exc}")


def _mneme_pick(tree, name):
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        raise _MnemeInvalid("the source defines no top-level function")
    if name is None:
        return defs[-1]
    named = [d for d in defs if d.name == name]
    if not named:
        found = ", ".join(d.name for d in defs)
        raise _MnemeInvalid(f"the source defines no top-level function named '{name}' (found: {found})")
    # Like Python itself: a later definition replaces an earlier one.
    return named[-1]


# ---- the docstring ---------------------------------------------------------------------------

def _mneme_docstring(func):
    doc = ast.get_docstring(func, clean=False)
    if not doc or not doc.strip():
        raise _MnemeInvalid(f"function '{func.name}' has no docstring")
    return _mneme_google(doc)


def _mneme_google(text):
    """Returns (description, {parameter: description})."""
    text = inspect.cleandoc(text)
    first = _MNEME_TITLES.search(text)
    head, meta = (text[: first.start()], text[first.start():]) if first else (text, "")
    parts = head.split("\n", 1)
    pieces = [parts[0], parts[1].strip() if len(parts) > 1 else ""]
    params = {}
    titles = list(_MNEME_TITLES.finditer(meta))
    for i, title in enumerate(titles):
        end = titles[i + 1].start() if i + 1 < len(titles) else len(meta)
        body = meta[title.end():end]
        # A line back at the left margin ends the section (docstring_parser issue 29).
        stray = re.search(r"\n\S", body)
        body = (body[: stray.start()] if stray else body).strip("\n")
        kind = _MNEME_SECTIONS[title.group(1)]
        if kind == "examples":
            pieces.append(inspect.cleandoc(body))
        elif kind in ("param", "attribute"):
            for arg, desc in _mneme_entries(body, title.group(1)):
                params.setdefault(arg, desc)
    return "\n\n".join(p for p in pieces if p), params


def _mneme_entries(body, title):
    """The `name (type): description` entries of one section, continuation lines included."""
    if not body.strip():
        return []
    indent = re.match(r"^\s*", body).group()
    starts = list(re.finditer(rf"^{re.escape(indent)}(?=\S)", body, re.M))
    entries = []
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        part = body[start.end():end].strip("\n")
        if ":" not in part:
            line = part.splitlines()[0].strip() if part.strip() else part
            raise _MnemeInvalid(f"docstring {title} entry '{line}' has no ':' between name and description")
        before, desc = part.split(":", 1)
        if desc.startswith(" "):
            desc = desc[1:]
        if "\n" in desc:
            line, rest = desc.split("\n", 1)
            desc = line + "\n" + inspect.cleandoc(rest)
        typed = _MNEME_TYPED_ARG.match(before)
        entries.append(((typed.group(1) if typed else before).strip(), desc.strip("\n")))
    return entries


# ---- parameters and types --------------------------------------------------------------------

def _mneme_parameters(source, func, docs):
    args = func.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    properties, required = {}, []
    for arg, default in pairs:
        if arg.arg in _MNEME_RESERVED:
            continue
        where = f"parameter '{arg.arg}' of function '{func.name}'"
        if arg.annotation is None:
            raise _MnemeInvalid(f"{where} lacks a type annotation")
        if not docs.get(arg.arg):
            raise _MnemeInvalid(f"{where} lacks a description in the docstring (an 'Args:' entry)")
        schema, optional = _mneme_type(source, arg.annotation, where)
        schema["description"] = docs[arg.arg]
        properties[arg.arg] = schema
        if default is None and not optional:
            required.append(arg.arg)
    return {"type": "object", "properties": properties, "required": required}


def _mneme_type(source, node, where):
    """(JSON schema, optional?) for an annotation."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        # A string annotation (forward reference) holds an expression.
        try:
            inner = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            raise _MnemeInvalid(f"{where} has an unreadable string annotation {node.value!r}")
        return _mneme_type(node.value, inner, where)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _mneme_union(source, _mneme_flatten(node), node, where)
    if isinstance(node, ast.Subscript):
        return _mneme_generic(source, node, where)
    name = _mneme_name(node)
    if name in _MNEME_PRIMITIVES:
        return {"type": _MNEME_PRIMITIVES[name]}, False
    if name in ("list", "List", "tuple", "Tuple", "Sequence"):
        # A bare list says nothing about its items; Letta declares strings.
        return {"type": "array", "items": {"type": "string"}}, False
    if name in ("dict", "Dict"):
        return {"type": "object"}, False
    raise _mneme_unsupported(source, node, where)


def _mneme_generic(source, node, where):
    base = _mneme_name(node.value)
    inner = node.slice.value if isinstance(node.slice, getattr(ast, "Index", ())) else node.slice
    args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    if base == "Optional" and len(args) == 1:
        return _mneme_type(source, args[0], where)[0], True
    if base == "Union":
        return _mneme_union(source, args, node, where)
    if base == "Annotated":
        return _mneme_type(source, args[0], where)
    if base == "Literal":
        return _mneme_literal(source, args, node, where), False
    if base in ("list", "List", "Sequence") and len(args) == 1:
        return {"type": "array", "items": _mneme_type(source, args[0], where)[0]}, False
    if base in ("tuple", "Tuple"):
        return _mneme_tuple(source, args, where), False
    if base in ("dict", "Dict"):
        raise _MnemeInvalid(
            f"{where} has type '{_mneme_text(source, node)}': typed dicts have no JSON schema "
            "here (Letta rejects them too); annotate it as plain 'dict'"
        )
    raise _mneme_unsupported(source, node, where)


def _mneme_union(source, members, node, where):
    rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
    if len(rest) == 1 and len(members) == 2:
        return _mneme_type(source, rest[0], where)[0], True
    raise _MnemeInvalid(
        f"{where} has type '{_mneme_text(source, node)}': only unions with None "
        "(Optional[X], X | None) are supported"
    )


def _mneme_literal(source, args, node, where):
    try:
        values = [ast.literal_eval(a) for a in args]
    except ValueError:
        raise _mneme_unsupported(source, node, where)
    kinds = {"boolean" if isinstance(v, bool) else
             "string" if isinstance(v, str) else
             "integer" if isinstance(v, int) else
             "number" if isinstance(v, float) else None for v in values}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    if len(kinds) != 1 or None in kinds:
        raise _MnemeInvalid(
            f"{where} has type '{_mneme_text(source, node)}': Literal values must all be "
            "strings, all numbers or all booleans"
        )
    return {"type": kinds.pop(), "enum": values}


def _mneme_tuple(source, args, where):
    if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
        return {"type": "array", "items": _mneme_type(source, args[0], where)[0]}
    items = [_mneme_type(source, a, where)[0] for a in args]
    return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}


def _mneme_flatten(node):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _mneme_flatten(node.left) + _mneme_flatten(node.right)
    return [node]


def _mneme_name(node):
    """`str`, `typing.List` -> `List`; anything else -> None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _mneme_text(source, node):
    try:
        return ast.get_source_segment(source, node) or ast.unparse(node)
    except Exception:
        return ast.dump(node)


def _mneme_unsupported(source, node, where):
    return _MnemeInvalid(
        f"{where} has type '{_mneme_text(source, node)}', which has no JSON schema type "
        "(supported: str, int, float, bool, list[...], dict, Optional[...], Literal[...], "
        "tuple[...])"
    )


# ---- entry point -----------------------------------------------------------------------------

def _mneme_schema(source, name):
    func = _mneme_pick(_mneme_parse(source), name)
    description, docs = _mneme_docstring(func)
    parameters = _mneme_parameters(source, func, docs)
    return {"name": func.name, "description": description, "parameters": parameters}


def _mneme_main():
    request = _mneme_read_request()
    _mneme_set_limits(request["limits"])
    try:
        doc = {"status": "success", "schema": _mneme_schema(request["source"], request.get("name"))}
    except _MnemeInvalid as exc:
        doc = {"status": "invalid", "error": str(exc)}
    except (RecursionError, MemoryError):
        doc = {"status": "invalid", "error": "the source is too deeply nested or too large to analyse"}
    except Exception as exc:
        doc = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    _mneme_finish(request["result_path"], doc)


_mneme_main()
