#!/usr/bin/python3
"""Man pages and shell completions for nfltr, nfltr-relay and nfltr-service, generated at
build time from the binaries' own --help, so they can never disagree with the program.

    gen-cli-docs.py man  BINARY EXTRA OUT      roff man page; EXTRA adds hand-written sections
    gen-cli-docs.py bash|zsh|fish BINARY OUT   completion script

A binary is read in one of two shapes: with commands (`nfltr help` / `nfltr-relay --help`
list them, `BINARY COMMAND --help` gives each command's options) or without (nfltr-service).
"""
import datetime
import os
import re
import subprocess
import sys

ENV = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", LANGUAGE="C", NO_COLOR="1",
           # nothing here may start the service or reach a relay
           DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent",
           # a sanitizer build's binaries run here too; their leak report is not help text
           ASAN_OPTIONS="detect_leaks=0", LSAN_OPTIONS="detect_leaks=0")

OPTION_RE = re.compile(r"^\s+(?:(-\w), )?(--[\w-]+)(?:=(\S+))?\s{2,}(.*)$")
COMMAND_RE = re.compile(r"^  ([a-z][\w-]*|KIND)\s+(.*)$")


def run(*argv):
    r = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=30)
    return r.stdout if r.stdout.strip() else r.stderr


def parse_options(text):
    """[(short, long, arg, help)] from a GOption --help (the Help Options' -h included)."""
    opts = []
    for line in text.splitlines():
        m = OPTION_RE.match(line)
        if m:
            opts.append(m.groups())
    return opts


def parse_command_help(text):
    """(usage, description, options, examples) of `BINARY COMMAND --help`."""
    lines = text.splitlines()
    usage, desc, examples = "", [], []
    section = None
    for line in lines:
        if line.startswith("Usage:"):
            section = "usage"
            continue
        if line.endswith("Options:"):
            section = "options"
            continue
        if line.startswith("Examples:"):
            section = "examples"
            continue
        if section == "usage" and line.strip():
            if not usage:
                usage = line.strip()
                section = "desc"
            continue
        if section == "desc":
            desc.append(line.strip())
        elif section == "examples" and line.strip():
            examples.append(line.strip())
    # GOption puts a one-line summary after the usage (" - summary"): keep it as text.
    if " - " in usage:
        usage, summary = usage.split(" - ", 1)
        desc.insert(0, summary[0].upper() + summary[1:] + ".")
    paragraphs = "\n".join(desc).strip().split("\n\n")
    paragraphs = [" ".join(p.split()) for p in paragraphs if p.strip()]
    return usage, paragraphs, parse_options(text), examples


def parse_commands(text):
    """[(name, args, description)] from the Commands: block of a top-level help."""
    cmds, in_block = [], False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Commands:"):
            in_block = True
            continue
        if in_block:
            if not line.strip():
                break
            m = COMMAND_RE.match(line)
            if not m:
                continue
            name, rest = m.groups()
            # "  name   description" (nfltr-relay) or "  name   ARGS" + an indented description
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.startswith(" " * 6) and not COMMAND_RE.match(nxt):
                cmds.append((name, rest.strip(), nxt.strip()))
            elif re.match(r"^(\[|-|[A-Z0-9|:_.]+(\s|$))", rest):
                cmds.append((name, rest.strip(), ""))
            else:
                cmds.append((name, "", rest.strip()))
    return cmds


def parse_kinds(text):
    kinds, in_block = [], False
    for line in text.splitlines():
        if line.startswith("Tunnel kinds"):
            in_block = True
            continue
        if in_block:
            if not line.strip():
                break
            m = re.match(r"^  (\S+)\s+(.*)$", line)
            if m:
                kinds.append(m.groups())
    return kinds


def describe(binary):
    """{'name', 'summary', 'commands': [(name, args, desc, usage, paragraphs, options, examples)],
    'options', 'kinds'} read off the binary."""
    name = os.path.basename(binary)
    top = run(binary, "help") if name == "nfltr" else run(binary, "--help")
    info = {"name": name, "commands": [], "kinds": parse_kinds(top), "top": top}
    for cname, args, desc in parse_commands(top):
        if cname in ("help", "KIND"):
            info["commands"].append((cname, args, desc, "", [], [], []))
            continue
        usage, paras, opts, examples = parse_command_help(run(binary, cname, "--help"))
        if not args and usage.startswith(name + " "):
            args = usage[len(name) + 1:].replace(cname + " ", "", 1).strip()
        # the one-line summary often repeats the command list's description
        paras = [p for p in paras if p.rstrip(".").lower() != desc.rstrip(".").lower()]
        info["commands"].append((cname, args, desc, usage, paras, opts, examples))
    if info["commands"]:
        info["options"] = [o for o in parse_options(top)]
        paras = []
        for para in top.split("\n\n"):
            if para.startswith(("Usage", "Commands", "Options", "Tunnel kinds", "Run ")):
                continue
            if para.strip():
                paras.append(" ".join(para.split()))
        info["paragraphs"] = paras
    else:
        usage, paras, opts, examples = parse_command_help(top)
        info["options"], info["paragraphs"], info["examples"] = opts, paras, examples
    return info


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # groff reads ASCII: everything else as its Unicode escape
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def option_lines(opts):
    out = []
    for short, long, arg, text in opts:
        if long == "--help":
            continue
        flag = f"\\fB{roff(short)}\\fR, " if short else ""
        flag += f"\\fB{roff(long)}\\fR" + (f"=\\fI{roff(arg)}\\fR" if arg else "")
        out += [".TP", flag, roff(text)]
    return out


def man(binary, extra_path, out_path):
    info = describe(binary)
    extra = open(extra_path).read() if extra_path else ""
    m = re.search(r"^NAME: (.*)$", extra, re.M)
    summary = m.group(1) if m else info["name"]
    extra = re.sub(r"^NAME: .*\n", "", extra, flags=re.M)
    # Text before the extra's first section continues DESCRIPTION.
    more_description, _, sections = extra.partition("\n.SH ")
    if more_description.startswith(".SH "):
        more_description, sections = "", extra[len(".SH "):]
    sections = ".SH " + sections if sections else ""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
            else datetime.datetime.now(datetime.timezone.utc))
    date = when.strftime("%Y-%m-%d")
    version = (run(binary, "--version").strip().split() or ["?"])[-1]
    lines = [f'.TH {info["name"].upper()} 1 "{date}" "NFLTR {version}" "User Commands"',
             ".SH NAME", f"{roff(info['name'])} \\- {roff(summary)}", ".SH SYNOPSIS"]
    if info["commands"]:
        for cname, args, *_ in info["commands"]:
            if cname == "KIND":
                lines += [".br", f"\\fB{roff(info['name'])}\\fR \\fIKIND\\fR {roff(args)}"]
            else:
                lines += [".br", f"\\fB{roff(info['name'])} {roff(cname)}\\fR {roff(args)}"]
    else:
        lines += [f"\\fB{roff(info['name'])}\\fR [\\fIOPTION\\fR\\[u2026]]"]
    lines.append(".SH DESCRIPTION")
    for p in info.get("paragraphs", []):
        lines += [".PP", roff(p)]
    if more_description.strip():
        lines.append(more_description.strip())
    if info["commands"]:
        lines.append(".SH COMMANDS")
        for cname, args, desc, usage, paras, opts, examples in info["commands"]:
            head = "\\fIKIND\\fR" if cname == "KIND" else f"\\fB{roff(cname)}\\fR"
            lines += [".SS " + head + (" " + roff(args) if args else "")]
            if desc:
                lines += [roff(desc[0].upper() + desc[1:]) + ("" if desc.endswith(".") else ".")]
            for p in paras:
                lines += [".PP", roff(p)]
            if cname == "KIND" and info["kinds"]:
                lines += [".PP", "Kinds this build offers:"]
                for k, d in info["kinds"]:
                    lines += [".TP", f"\\fB{roff(k)}\\fR", roff(d)]
            if any(o[1] != "--help" for o in opts):
                lines += [".PP", "Options:", ".RS"] + option_lines(opts) + [".RE"]
            if examples:
                lines += [".PP", "Examples:", ".RS", ".nf"] + [roff(e) for e in examples] + [".fi", ".RE"]
    if any(o[1] != "--help" for o in info.get("options", [])):
        lines.append(".SH OPTIONS")
        lines += option_lines(info["options"])
    if info.get("examples"):
        lines += [".SH EXAMPLES", ".nf"] + [roff(e) for e in info["examples"]] + [".fi"]
    lines.append(sections.strip())
    with open(out_path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out_path + ".tmp", out_path)


def completion_table(binary):
    info = describe(binary)
    table = {}
    for cname, args, desc, usage, paras, opts, examples in info["commands"]:
        if cname == "KIND":
            for k, _ in info["kinds"]:
                if k not in table:
                    table[k] = []
            continue
        table[cname] = [o[1] for o in opts if o[1] != "--help"] + ["--help"]
    top = [o[1] for o in info.get("options", [])]
    descs = {c[0]: c[2] for c in info["commands"]}
    for k, d in info["kinds"]:
        descs.setdefault(k, d)
    return info["name"], table, top, descs


def bash(binary, out_path):
    name, table, top, _ = completion_table(binary)
    fn = "_" + name.replace("-", "_")
    cases = "\n".join(f'    {c}) opts="{" ".join(o)}" ;;' for c, o in table.items())
    text = f"""# bash completion for {name} (generated from its --help by docs/cli/gen-cli-docs.py)
{fn}()
{{
  local cur=${{COMP_WORDS[COMP_CWORD]}} cmd=""
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${{COMP_WORDS[i]}} in
      -*) ;;
      *) cmd=${{COMP_WORDS[i]}}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "{" ".join(table) if table else ""} {" ".join(top)}" -- "$cur"))
    return
  fi
  local opts=""
  case $cmd in
{cases}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}}
complete -F {fn} {name}
"""
    if not table:
        text = f"""# bash completion for {name} (generated from its --help by docs/cli/gen-cli-docs.py)
complete -W "{" ".join(top)}" {name}
"""
    open(out_path, "w").write(text)


def zsh(binary, out_path):
    name, table, top, descs = completion_table(binary)
    fn = "_" + name.replace("-", "_")
    cmd_specs = " ".join(f"'{c}:{descs.get(c, '').replace(chr(39), '')}'" for c in table)
    cases = "\n".join(f"      {c}) _arguments {' '.join(repr(o) for o in opts)} '*:file:_files' ;;"
                      for c, opts in table.items())
    text = f"""#compdef {name}
# zsh completion for {name} (generated from its --help by docs/cli/gen-cli-docs.py)
{fn}() {{
  local -a commands
  commands=({cmd_specs})
  if (( CURRENT == 2 )); then
    _describe -t commands '{name} command' commands
    _arguments {' '.join(repr(o) for o in top)}
    return
  fi
  case $words[2] in
{cases}
  esac
}}
{fn} "$@"
"""
    if not table:
        text = f"""#compdef {name}
# zsh completion for {name} (generated from its --help by docs/cli/gen-cli-docs.py)
_arguments {' '.join(repr(o) for o in top)}
"""
    open(out_path, "w").write(text)


def fish(binary, out_path):
    name, table, top, descs = completion_table(binary)
    lines = [f"# fish completion for {name} (generated from its --help by docs/cli/gen-cli-docs.py)",
             f"complete -c {name} -f"]
    for c in table:
        d = descs.get(c, "").replace("'", "\\'")
        lines.append(f"complete -c {name} -n '__fish_use_subcommand' -a {c} -d '{d}'")
    for c, opts in table.items():
        for o in opts:
            lines.append(f"complete -c {name} -n '__fish_seen_subcommand_from {c}' -l {o[2:]}")
    for o in top:
        lines.append(f"complete -c {name} -l {o[2:]}")
    open(out_path, "w").write("\n".join(lines) + "\n")


def main():
    what = sys.argv[1]
    if what == "man":
        man(sys.argv[2], sys.argv[3] if sys.argv[3] != "-" else None, sys.argv[4])
    else:
        {"bash": bash, "zsh": zsh, "fish": fish}[what](sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
