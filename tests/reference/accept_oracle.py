#!/usr/bin/env python3
"""accept_oracle.py - check `infty-segment --accept reference` row by row
against the reference's own row acceptance, rewritten here from
ZJU-REAL/InftyThink data_preprocess/segmentation.py (process() and
split_thoughts(), the parts that decide whether a row is kept and what its
question, thoughts and conclusion are; the tokenizer and packing are not
needed for that).

usage: accept_oracle.py ROWS.jsonl SEGMENTS.jsonl REJECTS.jsonl

Every input line must be either kept by both, with the same question,
reasoning (the segments' text + sep joined) and conclusion, byte for byte,
or dropped by both (a reject record for that line).  Prints one summary
line; exit 1 on any difference.  Standard library only.
"""
import json
import re
import sys

PATTERN = re.compile(r'^<think>\n(.+)\n</think>(.+)$', re.S)


def reference(row):
    """(question, thoughts, conclusion) as the reference keeps them, or None."""
    try:
        assert len(row['messages']) == 2
        question = row['messages'][0]['content']
        solution = row['messages'][1]['content']
        thoughts, conclusion = PATTERN.search(solution).groups()
        steps = thoughts.split('\n\n')
        for step in steps[1:]:
            step[0].isupper()  # IndexError on an empty paragraph
        return question, thoughts, conclusion
    except Exception:  # the reference's own `except Exception: return None`
        return None


def main():
    rows_path, seg_path, rej_path = sys.argv[1:4]
    rows = {}
    with open(rows_path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                rows[n] = json.loads(line)
    kept, dropped = {}, {}
    with open(seg_path, encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)
            text = ''.join(s['text'] + s['sep'] for s in r['segments'])
            kept[r['source']['line']] = (r['question'], text, r['conclusion'])
    with open(rej_path, encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)
            dropped[r['line']] = r['reason']
    bad = 0
    for n, row in rows.items():
        want = reference(row)
        if want is None and n in dropped and n not in kept:
            continue
        if want is not None and kept.get(n) == want and n not in dropped:
            continue
        bad += 1
        if bad <= 5:
            print('line %d: reference %s, infty %s' % (
                n, 'keeps it' if want else 'drops it',
                'keeps it' if n in kept else 'rejects it (%s)' % dropped.get(n)))
    print('%d rows: the reference keeps %d, infty --accept reference %d; %d differ' % (
        len(rows), sum(1 for r in rows.values() if reference(r)), len(kept), bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
