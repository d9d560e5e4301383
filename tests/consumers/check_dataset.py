#!/usr/bin/env python3
"""check_dataset.py - load an `OUT/dataset` directory the way its consumers
do, with the Python standard library only, and check it against their rules.

usage: check_dataset.py DATASET_DIR FORMAT

The rules, and where they come from:

* Hugging Face hub / `datasets` (its json builder and README loading):
  the card's YAML header is the metadata; `configs[].data_files` names the
  files of each split; `dataset_info.features` is the schema `datasets`
  casts every record to, so it must be exactly the columns and types of the
  file as Arrow's JSON reader infers them (string, int64, float64, bool,
  struct with fields in order of appearance, list of one element type);
  `dataset_info.splits[].num_examples` is checked against the rows read
  (datasets' verify_splits), so it must be the line count.
* TRL (docs: dataset_formats, sft_trainer; code: trl/data_utils.py
  is_conversational and apply_chat_template, trl/trainer/sft_trainer.py
  tokenize): prompt-completion is "prompt" and "completion" in the example;
  it is conversational when the first of prompt/chosen/rejected/completion/
  messages is a list whose first item is a dict with "role"; the keys among
  those five (plus label) must be one of TRL's accepted sets; a
  conversational prompt ends with a user turn (the generation prompt is
  added after it); standard prompt and completion are strings (TRL
  concatenates them).
* LLaMA-Factory (data/README.md; src/llamafactory/data/loader.py,
  converter.py): dataset_info.json maps a name to file_name (relative to
  dataset_dir; the loader is chosen by the last extension: arrow, csv,
  json, jsonl, parquet, txt), formatting (alpaca or sharegpt), columns and,
  for sharegpt, tags; alpaca reads columns.prompt and columns.response as
  strings; sharegpt reads the list in columns.messages, each message's
  role under tags.role_tag and text under tags.content_tag, user_tag at
  even positions and assistant_tag at odd ones, an even count.

Prints one line per problem and a summary; exit 1 on any problem.
"""
import json
import os
import re
import sys

problems = []


def problem(msg):
    problems.append(msg)
    if len(problems) <= 20:
        print('not ok: ' + msg)


# ---- a small YAML reader: block mappings, block sequences, scalars --------

def yaml_lines(text):
    out = []
    for raw in text.split('\n'):
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        ind = len(raw) - len(raw.lstrip(' '))
        out.append([ind, raw.strip()])
    return out


def yaml_scalar(s):
    if s.startswith('"'):
        return json.loads(s)
    if s.startswith("'") and s.endswith("'"):
        return s[1:-1].replace("''", "'")
    if re.fullmatch(r'-?[0-9]+', s):
        return int(s)
    if s in ('true', 'false'):
        return s == 'true'
    if s in ('null', '~'):
        return None
    return s


def is_item(line):
    return line[1] == '-' or line[1].startswith('- ')


def parse_block(lines, i, ind):
    if is_item(lines[i]):
        return parse_seq(lines, i, ind)
    return parse_map(lines, i, ind)


def parse_map(lines, i, ind):
    m = {}
    while i < len(lines) and lines[i][0] == ind and not is_item(lines[i]):
        text = lines[i][1]
        if text.endswith(':'):
            key, rest = text[:-1], ''
        else:
            key, sep, rest = text.partition(': ')
            if not sep:
                raise ValueError('not a mapping line: %r' % text)
        key = key.strip()
        i += 1
        if rest.strip():
            m[key] = yaml_scalar(rest.strip())
        elif i < len(lines) and lines[i][0] > ind:
            m[key], i = parse_block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == ind and is_item(lines[i]):
            m[key], i = parse_seq(lines, i, ind)
        else:
            m[key] = None
    return m, i


def parse_seq(lines, i, ind):
    seq = []
    while i < len(lines) and lines[i][0] == ind and is_item(lines[i]):
        rest = lines[i][1][1:].strip()
        if not rest:
            i += 1
            item, i = parse_block(lines, i, lines[i][0])
        elif re.match(r'^[^"\'][^:]*:( |$)', rest):
            lines[i] = [ind + 2, rest]  # the item's first key, then its others
            item, i = parse_map(lines, i, ind + 2)
        else:
            item, i = yaml_scalar(rest), i + 1
        seq.append(item)
    return seq, i


def parse_yaml(text):
    lines = yaml_lines(text)
    value, i = parse_block(lines, 0, lines[0][0])
    if i != len(lines):
        raise ValueError('YAML line not understood: %r' % lines[i][1])
    return value


# ---- features ------------------------------------------------------------

def infer(v):
    """The Arrow type of one JSON value, as a comparable tree."""
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, int):
        return 'int64'
    if isinstance(v, float):
        return 'float64'
    if isinstance(v, str):
        return 'string'
    if isinstance(v, list):
        t = 'null'
        for x in v:
            t = merge(t, infer(x))
        return ('list', t)
    return ('struct', tuple((k, infer(x)) for k, x in v.items()))


def merge(a, b):
    if a == 'null':
        return b
    if b == 'null':
        return a
    if {a, b} == {'int64', 'float64'}:
        return 'float64'
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == 'list':
        return ('list', merge(a[1], b[1]))
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == 'struct':
        if [k for k, _ in a[1]] != [k for k, _ in b[1]]:
            raise ValueError('struct fields differ: %s / %s' % (a[1], b[1]))
        return ('struct', tuple((k, merge(x, y)) for (k, x), (_, y) in zip(a[1], b[1])))
    if a != b:
        raise ValueError('types differ: %s / %s' % (a, b))
    return a


def from_yaml(feature):
    """A datasets YAML feature (without its name) as the same tree."""
    if 'dtype' in feature:
        return feature['dtype']
    if 'struct' in feature:
        return ('struct', tuple((f['name'], from_yaml(f)) for f in feature['struct']))
    if 'list' in feature:
        inner = feature['list']
        if isinstance(inner, str):
            return ('list', inner)
        if isinstance(inner, list):
            return ('list', ('struct', tuple((f['name'], from_yaml(f)) for f in inner)))
        return ('list', from_yaml(inner))
    raise ValueError('feature not understood: %r' % feature)


# ---- the consumers ----------------------------------------------------------

TRL_KEYS = ('prompt', 'chosen', 'rejected', 'completion', 'messages')
TRL_KEY_SETS = [{'messages'}, {'prompt'}, {'prompt', 'completion'},
                {'prompt', 'chosen', 'rejected'}, {'chosen', 'rejected'},
                {'prompt', 'completion', 'label'}]


def trl_is_conversational(ex):
    keys = [k for k in ex if k in TRL_KEYS]
    if not keys:
        return False
    v = ex[keys[0]]
    return isinstance(v, list) and bool(v) and isinstance(v[0], dict) and 'role' in v[0]


def is_turns(v, roles):
    return (isinstance(v, list) and len(v) == len(roles) and
            all(isinstance(t, dict) and list(t) == ['role', 'content'] and
                t['role'] == r and isinstance(t['content'], str) for t, r in zip(v, roles)))


# The exact columns of each format and their types (meta may follow).
COLUMNS = {
    'paper': [('input', str), ('target', str)],
    'trl': [('prompt', str), ('completion', str)],
    'trl-chat': [('prompt', list), ('completion', list)],
    'messages': [('messages', list)],
    'hf': [('uuid', str), ('reasoning_index', int), ('question', str), ('history', str),
           ('reasoning_process', str), ('summary', str), ('conclusion', str),
           ('messages', list)],
}


def check_record(n, ex, fmt):
    cols = COLUMNS[fmt]
    keys = list(ex)
    want = [c for c, _ in cols]
    if keys not in (want, want + ['meta']):
        problem('line %d: columns %s, want %s' % (n, keys, want))
        return
    for c, t in cols:
        if not isinstance(ex[c], t) or isinstance(ex[c], bool):
            problem('line %d: %s is %s' % (n, c, type(ex[c]).__name__))
            return
    if fmt == 'paper':
        return  # raw text for any trainer: input is not trained, target is
    # TRL: the type it will see and the key set it accepts.
    present = {k for k in ex if k in TRL_KEYS + ('label',)}
    if present not in TRL_KEY_SETS:
        problem('line %d: TRL rejects the key set %s' % (n, sorted(present)))
    conv = trl_is_conversational(ex)
    if fmt == 'trl':
        if conv or not ('prompt' in ex and 'completion' in ex):
            problem('line %d: not TRL standard prompt-completion' % n)
    if fmt == 'trl-chat':
        if not conv:
            problem('line %d: TRL does not see a conversational example' % n)
        if not is_turns(ex['prompt'], ['user']) or not is_turns(ex['completion'], ['assistant']):
            problem('line %d: prompt is not [user] or completion not [assistant]' % n)
    if fmt in ('messages', 'hf'):
        if not conv or not is_turns(ex['messages'], ['user', 'assistant']):
            problem('line %d: messages is not [user, assistant]' % n)
    if fmt == 'hf':
        if (ex['summary'] == '') == (ex['conclusion'] == ''):
            problem('line %d: exactly one of summary and conclusion must be set' % n)
        if ex['reasoning_index'] < 0:
            problem('line %d: negative reasoning_index' % n)


LF_EXT = {'arrow', 'csv', 'json', 'jsonl', 'parquet', 'txt'}


def check_llamafactory(d, fmt, records):
    path = os.path.join(d, 'dataset_info.json')
    if fmt == 'trl-chat':
        if os.path.exists(path):
            problem('dataset_info.json written for trl-chat, which LLaMA-Factory cannot read')
        return
    if not os.path.exists(path):
        problem('no dataset_info.json')
        return
    info = json.load(open(path, encoding='utf-8'))
    if len(info) != 1:
        problem('dataset_info.json: %d entries, want 1' % len(info))
    for name, e in info.items():
        fname = e.get('file_name')
        if not fname or not os.path.isfile(os.path.join(d, fname)):
            problem('%s: file_name %r is not a file under dataset_dir' % (name, fname))
            continue
        if os.path.splitext(fname)[-1][1:] not in LF_EXT:
            problem('%s: LLaMA-Factory has no loader for %r' % (name, fname))
        formatting = e.get('formatting', 'alpaca')
        cols = e.get('columns', {})
        if formatting == 'alpaca':
            prompt, response = cols.get('prompt', 'instruction'), cols.get('response', 'output')
            for n, ex in records:
                if not isinstance(ex.get(prompt), str) or not isinstance(ex.get(response), str):
                    problem('%s: line %d: alpaca prompt %r / response %r not strings' %
                            (name, n, prompt, response))
                    break
        elif formatting == 'sharegpt':
            tags = e.get('tags', {})
            role, content = tags.get('role_tag', 'from'), tags.get('content_tag', 'value')
            user, asst = tags.get('user_tag', 'human'), tags.get('assistant_tag', 'gpt')
            col = cols.get('messages', 'conversations')
            for n, ex in records:
                msgs = ex.get(col)
                ok = isinstance(msgs, list) and len(msgs) % 2 == 0 and len(msgs) > 0
                for i, m in enumerate(msgs if ok else []):
                    if not isinstance(m, dict) or m.get(role) != (user if i % 2 == 0 else asst) \
                            or not isinstance(m.get(content), str):
                        ok = False
                if not ok:
                    problem('%s: line %d: not a sharegpt turn list under %r' % (name, n, col))
                    break
        else:
            problem('%s: formatting %r' % (name, formatting))


def main():
    d, fmt = sys.argv[1], sys.argv[2]
    card = open(os.path.join(d, 'README.md'), encoding='utf-8').read()
    m = re.match(r'---\n(.*?)\n---\n', card, re.S)
    if not m:
        problem('README.md has no YAML header')
        return finish()
    meta = parse_yaml(m.group(1))
    for key in ('license', 'task_categories', 'size_categories', 'configs', 'dataset_info'):
        if key not in meta:
            problem('card: no %s' % key)
    files = [f['path'] for c in meta.get('configs', []) for f in c.get('data_files', [])
             if f.get('split') == 'train']
    if files != ['data/train.jsonl']:
        problem('card: train data_files %s' % files)
        return finish()
    records = []
    inferred = None
    with open(os.path.join(d, files[0]), encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            ex = json.loads(line)
            records.append((n, ex))
            inferred = infer(ex) if inferred is None else merge(inferred, infer(ex))
            check_record(n, ex, fmt)
    declared = ('struct', tuple((f['name'], from_yaml(f))
                                for f in meta['dataset_info']['features']))
    if declared != inferred:
        problem('card features %s != file %s' % (declared, inferred))
    splits = {s['name']: s.get('num_examples') for s in meta['dataset_info'].get('splits', [])}
    if splits != {'train': len(records)}:
        problem('card splits %s, the file has %d rows' % (splits, len(records)))
    n = len(records)
    size = ('n<1K' if n < 1000 else '1K<n<10K' if n < 10000 else '10K<n<100K' if n < 100000
            else '100K<n<1M' if n < 1000000 else None)
    if size and meta.get('size_categories') != [size]:
        problem('card size_categories %s for %d rows' % (meta.get('size_categories'), n))
    if 'text-generation' not in (meta.get('task_categories') or []):
        problem('card task_categories %s' % meta.get('task_categories'))
    check_llamafactory(d, fmt, records)
    print('%s: %d records, %d features, license %s' %
          (fmt, n, len(declared[1]), meta.get('license')))
    return finish()


def finish():
    if problems:
        print('%d problems' % len(problems))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
