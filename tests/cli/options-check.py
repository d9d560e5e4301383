#!/usr/bin/env python3
"""options-check.py TOOL MANPAGE: compare a tool's --help with its man page.

The option table of each tool (src/<dir>/main.c) makes its --help; this
checks that the man page's SYNOPSIS and OPTIONS say the same: the same
usage forms, and exactly the same options with the same argument names.
It also checks the one vocabulary of short options across tools.  Prints
one line per difference and exits 1 when there is any.
"""
import re
import shlex
import subprocess
import sys

# Short options that mean the same in every tool that has either side.
VOCABULARY = {"o": "output", "r": "rejects", "s": "stats", "j": "threads",
              "q": "quiet", "t": "tokenizer", "h": "help", "V": "version"}
JOINED = {".BR", ".BI", ".IR", ".RB", ".RI", ".IB", ".IR"}


def roff_text(line):
    """The text a one-line roff macro call prints, fonts dropped."""
    line = line.strip()
    if line.startswith("."):
        macro, _, rest = line.partition(" ")
        try:
            args = shlex.split(rest.replace("\\", "\\\\"), posix=True)
        except ValueError:
            args = rest.split()
        text = ("" if macro in JOINED else " ").join(args)
    else:
        text = line
    text = re.sub(r"\\f[BIRP]", "", text)
    text = text.replace("\\-", "-").replace("\\ ", " ").replace("\\&", "")
    text = text.replace("\\(em", "--").replace("\\(dq", '"')
    return re.sub(r"\s+", " ", text).strip()


def sections(man):
    out, name = {}, None
    for line in man.splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            out[name] = []
        elif name:
            out[name].append(line)
    return out


def man_options(lines):
    heads, take = [], False
    for line in lines:
        if line.startswith((".TP", ".TQ")):
            take = True
            continue
        if take:
            heads.append(roff_text(line))
        take = False
    return heads


def man_synopsis(lines):
    forms, cur = [], []
    for line in lines:
        if line.startswith((".br", ".PP", ".sp")):
            if cur:
                forms.append(" ".join(cur))
            cur = []
        elif line.strip() and not line.startswith('.\\"'):
            cur.append(roff_text(line))
    if cur:
        forms.append(" ".join(cur))
    return forms


def help_parts(text):
    usage, opts = [], []
    for line in text.splitlines():
        m = re.match(r"^(usage:|      ) (infty-\S+ .*)$", line)
        if m and not opts:
            usage.append(m.group(2))
            continue
        m = re.match(r"^  ((-\w, |    )--[\w-]+( \S+)?|-\w( \S+)?)(  |$)", line)
        if m:
            opts.append(m.group(1).strip())
    return usage, opts


def squash(s):
    return re.sub(r"\s+", "", s).lower()


def main():
    tool, page = sys.argv[1], sys.argv[2]
    helptext = subprocess.run([tool, "--help"], capture_output=True, text=True).stdout
    usage, opts = help_parts(helptext)
    man = sections(open(page, encoding="utf-8").read())
    problems = []
    mopts = man_options(man.get("OPTIONS", []))
    for o in opts:
        if o not in mopts:
            problems.append("--help has '%s', the man page's OPTIONS do not" % o)
    for o in mopts:
        if o not in opts:
            problems.append("the man page has '%s', --help does not" % o)
    msyn = [squash(f) for f in man_synopsis(man.get("SYNOPSIS", []))]
    for u in usage:
        if squash(u) not in msyn:
            problems.append("usage '%s' is not in the man page's SYNOPSIS" % u)
    if len(msyn) != len(usage):
        problems.append("SYNOPSIS has %d forms, --help %d" % (len(msyn), len(usage)))
    for o in opts:
        m = re.match(r"^(?:-(\w)(?:, |$| ))?(?:--([\w-]+))?", o)
        short, long_ = m.group(1), m.group(2)
        if short in VOCABULARY and VOCABULARY[short] != long_:
            problems.append("-%s is --%s everywhere else, here --%s" % (short, VOCABULARY[short], long_))
        for s, l in VOCABULARY.items():
            if l == long_ and short != s:
                problems.append("--%s is -%s everywhere else, here %s" % (l, s, "-" + short if short else "none"))
    for p in problems:
        print("%s: %s" % (page, p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
