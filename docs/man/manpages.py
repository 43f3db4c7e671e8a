#!/usr/bin/env python3
"""The man pages of psn and docs/reference.md, from one source.

docs/man/<name>.<section>.md (pandoc's markdown with a small YAML header) is
the only place the text is written:

  manpages.py build --pandoc PANDOC --version V --out DIR
      renders every page with pandoc into DIR/man3, DIR/man7 (gzipped); each
      further name a page documents (`names:` in its header) gets a `.so`
      link page, so `man 3 SetLastError` shows GetLastError(3).
  manpages.py reference [--check]
      writes docs/reference.md from psn(7) with the section 3 pages placed
      where psn.7.md has a `<!-- pages: ... -->` line; --check compares
      instead and fails (with a diff) when the file is stale.
  manpages.py check --man DIR
      every public C function of <psn/psn.h> has a page or a link in DIR
      (which `man -M DIR` finds), every psn-win32 function a page (with
      `group: psn-win32` in its header, which keeps it out of reference.md)
      or an entry in psn-win32.7.md's FUNCTIONS; every page renders with
      `man -l` without a warning or a line wider than 80 columns and names
      its functions in its NAME section.

Public functions are read from the compiler (gcc -aux-info), not guessed
from the text of the headers. See docs/packaging.md.
"""
import argparse
import difflib
import gzip
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE = os.path.join(ROOT, "docs", "reference.md")
HEADERS = {
    # header group: (headers to compile, include dirs, files whose functions count)
    "psn": (["include/psn/psn.h"], ["include"], ["include/psn/"]),
    "psn-win32": (["include/psn-win32/windows.h"], ["include", "include/psn-win32"],
                  ["include/psn-win32/"]),
}
# Short: with the longest page names the header line still fits 80 columns.
MANUAL_TITLE = "psn"


class Page:
    def __init__(self, path):
        self.path = path
        base = os.path.basename(path)
        m = re.fullmatch(r"(.+)\.([1-8])\.md", base)
        if not m:
            raise SystemExit(f"{path}: not <name>.<section>.md")
        self.name, self.section = m.group(1), m.group(2)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        m = re.match(r"---\n(.*?)\n---\n", text, re.S)
        if not m:
            raise SystemExit(f"{path}: no YAML header")
        self.meta = {}
        for line in m.group(1).splitlines():
            k, _, v = line.partition(":")
            v = v.strip()
            if v.startswith("[") and v.endswith("]"):
                v = [x.strip() for x in v[1:-1].split(",") if x.strip()]
            self.meta[k.strip()] = v
        self.body = text[m.end():]
        if self.meta.get("title") != self.name or self.meta.get("section") != self.section:
            raise SystemExit(f"{path}: title/section must be {self.name}/{self.section}")
        self.names = [self.name] + list(self.meta.get("names", []))
        self.sections = split_sections(self.body, path)

    def section_text(self, title):
        for s in self.sections:
            if s["title"] == title:
                return s["text"]
        return None


def split_sections(body, path):
    """Level-1 sections: [{title, attrs, text}] (text without the heading)."""
    sections, current = [], None
    in_code = False
    for line in body.splitlines(keepends=True):
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"# (.+?)(?:\s+\{(.*)\})?\s*$", line)
        if m:
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            current = {"title": m.group(1), "attrs": attrs, "text": ""}
            sections.append(current)
        elif current is not None:
            current["text"] += line
        elif line.strip():
            raise SystemExit(f"{path}: text before the first section")
    return sections


def load_pages():
    pages = [Page(os.path.join(HERE, f)) for f in sorted(os.listdir(HERE))
             if re.fullmatch(r".+\.[1-8]\.md", f)]
    seen = {}
    for p in pages:
        for n in p.names:
            if (n, p.section) in seen:
                raise SystemExit(f"{n}({p.section}) documented by {seen[n, p.section]} and {p.path}")
            seen[n, p.section] = p.path
    return pages


# ---------------------------------------------------------------- build

def build(args):
    pages = load_pages()
    for sec in sorted({p.section for p in pages}):
        d = os.path.join(args.out, f"man{sec}")
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):  # no stale page survives a rename
            os.remove(os.path.join(d, f))
    for p in pages:
        roff = subprocess.run(
            [args.pandoc, "--standalone", "--from", "markdown", "--to", "man",
             "--lua-filter", os.path.join(HERE, "man.lua"),
             "--metadata", "hyphenate=false", "--variable", "adjusting=l",
             "--metadata", f"footer=psn {args.version}",
             "--metadata", f"header={MANUAL_TITLE}", p.path],
            check=True, capture_output=True, text=True).stdout
        write_gz(os.path.join(args.out, f"man{p.section}", f"{p.name}.{p.section}.gz"), roff)
        for alias in p.names[1:]:
            write_gz(os.path.join(args.out, f"man{p.section}", f"{alias}.{p.section}.gz"),
                     f".so man{p.section}/{p.name}.{p.section}\n")


def write_gz(path, text):
    # mtime 0: the same sources give the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                 mtime=0, compresslevel=9) as f:
        f.write(text.encode("utf-8"))


# ---------------------------------------------------------------- reference

NOTICE = ("<!-- Generated from docs/man/*.md by docs/man/manpages.py: edit those\n"
          "     and run `python3 docs/man/manpages.py reference` (or `ninja reference`);\n"
          "     the docs.reference test fails while this file is stale. -->\n")


def github_anchor(title):
    a = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return a.replace(" ", "-")


def page_heading(p):
    return ", ".join(p.names)


def link_refs(text, anchors, titles):
    """Man page cross references, as links within the reference:
    **Name**(3) to that function's part; a psn(7) section title (COMPLETION
    PORTS, optionally "in **psn**(7)") to that section; "R3.8 in **psn**(7)"
    to the label alone (it is in the same document now)."""
    def function(m):
        name = m.group(1)
        if name in anchors:
            return f"[**{name}**(3)](#{anchors[name]})"
        return m.group(0)
    if "```" in text:  # never inside code
        parts = re.split(r"(^```.*?^```\n)", text, flags=re.M | re.S)
        return "".join(p if p.startswith("```") else link_refs(p, anchors, titles) for p in parts)
    text = re.sub(r"(?<!\[)\*\*(\w+)\*\*\(3\)", function, text)
    for title, ref in titles.items():
        words = r"\s+".join(re.escape(w) for w in title.split())
        text = re.sub(r"(?<![\w`])" + words + r"(?:\s+in\s+\*\*psn\*\*\(7\))?(?![\w`])",
                      f"[{ref}](#{github_anchor(ref)})", text)
    text = re.sub(r"(R\d+(?:\.\d+)?(?:(?:,\s+|\s+and\s+)R\d+(?:\.\d+)?)*)\s+in\s+"
                  r"\*\*psn\*\*\(7\)", r"\1", text)
    # Paths of other documents become links relative to docs/.
    text = re.sub(r"`docs/([\w\-]+\.md)`", r"[\1](\1)", text)
    return text


def demote(text, levels):
    out, in_code = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"#+ ", line):
            line = "#" * levels + line
        out.append(line)
    return "".join(out)


def function_block(p):
    name_line = (p.section_text("NAME") or "").strip()
    summary = name_line.split(" - ", 1)[1].strip() if " - " in name_line else ""
    out = [f"### {page_heading(p)}\n\n"]
    if summary:
        out.append(f"*{summary[0].upper() + summary[1:]}.*\n\n")
    for s in p.sections:
        t = s["title"]
        if t in ("NAME", "SEE ALSO"):
            continue
        text = s["text"].strip("\n")
        if t == "SYNOPSIS":
            # The include line is the same for every page: keep the code.
            text = "\n".join(l for l in text.splitlines()
                             if not l.startswith("**#include")).strip("\n")
        elif t != "DESCRIPTION":
            out.append(f"#### {t[0] + t[1:].lower()}\n\n")
        out.append(demote(text, 3) + "\n\n")
    return "".join(out)


def reference_text():
    pages = load_pages()
    # psn-win32 pages (`group: psn-win32`) are not part of the reference.
    by_name = {p.name: p for p in pages if p.section == "3" and p.meta.get("group") != "psn-win32"}
    anchors = {}
    for p in by_name.values():
        for n in p.names:
            anchors[n] = github_anchor(page_heading(p))
    model = next((p for p in pages if p.name == "psn" and p.section == "7"), None)
    if model is None:
        raise SystemExit("docs/man/psn.7.md is missing")
    titles = {s["title"]: s["attrs"]["ref"] for s in model.sections if "ref" in s["attrs"]}
    placed = []
    out = ["# psn reference\n\n", NOTICE, "\n"]
    for s in model.sections:
        t = s["title"]
        if t in ("NAME", "SYNOPSIS", "SEE ALSO"):
            continue
        text = s["text"]
        if t != "DESCRIPTION":
            if "ref" not in s["attrs"]:
                raise SystemExit(f"psn.7.md: section {t} has no {{ref=\"...\"}} title")
            out.append(f"## {s['attrs']['ref']}\n")

        def place(m):
            blocks = []
            for n in m.group(1).split():
                if n not in by_name:
                    raise SystemExit(f"psn.7.md: no page {n}.3.md to place")
                placed.append(n)
                blocks.append(function_block(by_name[n]))
            return "".join(blocks)

        text = demote(text, 1)
        text = re.sub(r"^<!-- pages: (.*?) -->\n", place, text, flags=re.M)
        out.append(link_refs(text, anchors, titles).rstrip("\n") + "\n\n")
    missing = sorted(set(by_name) - set(placed))
    if missing:
        raise SystemExit(f"psn.7.md places no `<!-- pages: -->` line for: {' '.join(missing)}")
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).rstrip("\n") + "\n"


def reference(args):
    text = reference_text()
    if args.check:
        with open(REFERENCE, encoding="utf-8") as f:
            old = f.read()
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), text.splitlines(keepends=True),
                "docs/reference.md", "generated from docs/man"))
            print("FAIL: docs/reference.md is stale: edit docs/man/*.md, then run "
                  "`python3 docs/man/manpages.py reference`")
            return 1
        print("docs/reference.md matches docs/man: 1 passed, 0 failed")
        return 0
    with open(REFERENCE, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


# ---------------------------------------------------------------- check

def public_functions(group):
    """Functions the group's headers declare, as the C compiler sees them."""
    headers, incs, owners = HEADERS[group]
    with tempfile.TemporaryDirectory() as tmp:
        aux = os.path.join(tmp, "aux.txt")
        cmd = ["gcc", "-std=c11", "-fsyntax-only", "-Wno-unknown-pragmas", "-aux-info", aux]
        cmd += [f"-I{os.path.join(ROOT, i)}" for i in incs]
        cmd += ["-x", "c", os.path.join(ROOT, headers[0])]
        subprocess.run(cmd, check=True)
        names = {}
        with open(aux, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"/\* (.*?):(\d+):\w+ \*/ .*?(\w+) \(", line)
                if not m:
                    continue
                rel = os.path.relpath(m.group(1), ROOT)
                if any(rel.startswith(o) for o in owners):
                    names.setdefault(m.group(3), f"{rel}:{m.group(2)}")
        return names


def header_macros(group):
    """Function-like and plain macros the group's headers define (a listed
    name may be one: gethostname, MemoryBarrier)."""
    names = set()
    for owner in HEADERS[group][2]:
        for dirpath, _, files in os.walk(os.path.join(ROOT, owner)):
            for f in files:
                with open(os.path.join(dirpath, f), encoding="utf-8") as h:
                    names.update(re.findall(r"^\s*#\s*define\s+(\w+)", h.read(), re.M))
    return names


def render(path, manpath=None):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    if manpath:
        cmd = ["man", "--warnings", "-M", manpath] + path
    else:
        cmd = ["man", "--warnings", "-l", path]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def listed_in(page):
    """Function names a section 7 page lists under FUNCTIONS (as **name**)."""
    text = page.section_text("FUNCTIONS") or ""
    return set(re.findall(r"\*\*(\w+)\*\*", text))


def check(args):
    failures, passed = [], 0
    pages = load_pages()

    def ok(cond, what):
        nonlocal passed
        if cond:
            passed += 1
        else:
            failures.append(what)
            print(f"FAIL {what}")

    # Every page renders on its own, without a warning, and names itself.
    for p in pages:
        f = os.path.join(args.man, f"man{p.section}", f"{p.name}.{p.section}.gz")
        if not os.path.exists(f):
            ok(False, f"{p.name}({p.section}) was not built: {f}")
            continue
        rc, out, err = render(f)
        ok(rc == 0 and not err.strip(), f"man -l {p.name}.{p.section}: rc {rc} {err.strip()}")
        name_part = out.split("SYNOPSIS")[0] if "SYNOPSIS" in out else out[:400]
        ok(re.search(r"^NAME$", out, re.M) is not None and
           all(n in name_part for n in p.names), f"{p.name}({p.section}): NAME lacks its names")
        ok(len(out.splitlines()) > 10, f"{p.name}({p.section}) renders to almost nothing")
        wide = [l for l in out.splitlines() if len(l) > 80]
        ok(not wide, f"{p.name}({p.section}) has lines wider than 80 columns: {wide[:3]}")

    section3 = {n: p for p in pages if p.section == "3" for n in p.names}
    functions = public_functions("psn")
    # psn_* names in the psn-win32 headers are psn's own helpers behind
    # macros (gethostname is psn_ws_gethostname), not Windows functions.
    win32 = {n: w for n, w in public_functions("psn-win32").items() if not n.startswith("psn_")}
    win32_macros = header_macros("psn-win32")
    ok("ProcessSocketNotifications" in functions, "the compiler sees no psn.h functions")
    win32_page = next((p for p in pages if p.name == "psn-win32" and p.section == "7"), None)
    win32_listed = listed_in(win32_page) if win32_page else set()

    # Every public function of <psn/psn.h> has its section 3 page (or link),
    # which `man -M DIR 3 name` shows.
    for name, where in sorted(functions.items()):
        ok(name in section3, f"{name} ({where}) has no page: write docs/man/{name}.3.md "
                             f"or add it to a page's names:")
        if name in section3:
            rc, out, err = render(["3", name], args.man)
            ok(rc == 0 and not err.strip() and name in out, f"man -M {args.man} 3 {name}: {err}")
    # The psn-win32 functions: a page of their own, or the list in
    # psn-win32(7) (enforced once that page exists).
    if win32_page:
        for name, where in sorted(win32.items()):
            if name in functions:
                continue
            ok(name in section3 or name in win32_listed,
               f"{name} ({where}) is in neither a page nor psn-win32(7)'s FUNCTIONS")
        for name in sorted(win32_listed - set(win32) - win32_macros):
            ok(False, f"psn-win32(7) lists {name}, which no psn-win32 header declares")
        print(f"(psn-win32: {len(win32)} functions, {len(win32_listed)} names in psn-win32(7))")
    else:
        print(f"(psn-win32: {len(win32)} functions; no psn-win32.7.md yet, not checked)")
    # No page for a function that does not exist; a psn-win32 function's
    # page says so (`group: psn-win32`), which keeps it out of reference.md.
    for name, p in sorted(section3.items()):
        if p.meta.get("group") == "psn-win32":
            ok(name in win32 or name in win32_macros,
               f"{p.path} documents {name}, which no psn-win32 header declares")
        else:
            ok(name in functions, f"{p.path} documents {name}, which <psn/psn.h> does not declare"
                                  + (" (a psn-win32 function: add `group: psn-win32`)"
                                     if name in win32 else ""))

    print(f"man pages: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--pandoc", default="pandoc")
    b.add_argument("--version", required=True)
    b.add_argument("--out", required=True)
    r = sub.add_parser("reference")
    r.add_argument("--check", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("--man", required=True)
    args = ap.parse_args()
    if args.cmd == "build":
        return build(args) or 0
    if args.cmd == "reference":
        return reference(args)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
