// A command line split into argv as Python's shlex.split() does (POSIX mode, no comments): Patroni
// runs callbacks as shlex.split(command) + [action, role, scope], without a shell, and a Patroni
// config must mean the same here ("a Patroni config runs unchanged", SPEC 2).

/** Throws on an unterminated quote or a trailing backslash, as shlex does. */
export function shlexSplit(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] ?? '';
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`no closing quotation in ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const quoted = readDoubleQuoted(line, i + 1);
      word += quoted.text;
      inWord = true;
      i = quoted.next;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error(`no escaped character in ${JSON.stringify(line)}`);
      word += line[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/** The text of a double-quoted part starting at `from` (after the quote), and where reading goes on. */
function readDoubleQuoted(line: string, from: number): { text: string; next: number } {
  let text = '';
  let i = from;
  for (;;) {
    if (i >= line.length) throw new Error(`no closing quotation in ${JSON.stringify(line)}`);
    const d = line[i] ?? '';
    if (d === '"') return { text, next: i + 1 };
    // Inside double quotes shlex lets a backslash escape only '"' and itself.
    if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
      text += line[i + 1];
      i += 2;
    } else {
      text += d;
      i++;
    }
  }
}
