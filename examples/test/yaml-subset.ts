/**
 * A parser for the small YAML subset docker-compose.yml is written in, so the
 * test needs no YAML dependency: block mappings, block sequences of scalars,
 * flow sequences of scalars ([a, "b"]), plain / 'single' / "double" quoted
 * scalars, and comments. Anything else (anchors, aliases, tags, multi-line
 * strings, flow mappings, mappings inside sequences, tabs) is an error, so the
 * file stays within what this parser (and a reader) can check.
 */
export type Yaml = string | Yaml[] | { [key: string]: Yaml } | null;

interface Line {
  no: number;
  indent: number;
  text: string;
}

export function parseYamlSubset(source: string): Yaml {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new Error(`line ${i + 1}: tabs are not allowed`);
    const text = stripComment(raw, i + 1).trimEnd();
    if (text.trim() === '') return;
    lines.push({ no: i + 1, indent: text.length - text.trimStart().length, text: text.trimStart() });
  });
  let pos = 0;

  function block(indent: number): Yaml {
    const first = lines[pos];
    if (first === undefined || first.indent < indent) return null;
    return first.text.startsWith('- ') || first.text === '-' ? sequence(first.indent) : mapping(first.indent);
  }

  function mapping(indent: number): Yaml {
    const out: { [key: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const line = lines[pos]!;
      const m = /^([^\s'"{}[\],&*!|>#-][^:]*?|"[^"]*"|'[^']*'):(?:\s+(.*))?$/.exec(line.text);
      if (m === null) throw new Error(`line ${line.no}: expected "key: value", got ${JSON.stringify(line.text)}`);
      const key = scalar(m[1]!, line.no);
      if (key === null || typeof key !== 'string') throw new Error(`line ${line.no}: bad key`);
      if (key in out) throw new Error(`line ${line.no}: duplicate key ${key}`);
      pos++;
      if (m[2] === undefined || m[2] === '') {
        const next = lines[pos];
        out[key] = next !== undefined && next.indent > indent ? block(next.indent) : null;
      } else {
        out[key] = value(m[2], line.no);
      }
    }
    if (pos < lines.length && lines[pos]!.indent > indent) throw new Error(`line ${lines[pos]!.no}: unexpected indentation`);
    return out;
  }

  function sequence(indent: number): Yaml {
    const out: Yaml[] = [];
    while (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- ')) {
      const line = lines[pos]!;
      const item = line.text.slice(2).trim();
      if (/^[^'"[]*:(\s|$)/.test(item)) throw new Error(`line ${line.no}: mappings inside sequences are not in the subset`);
      out.push(value(item, line.no));
      pos++;
    }
    if (pos < lines.length && lines[pos]!.indent > indent) throw new Error(`line ${lines[pos]!.no}: unexpected indentation`);
    return out;
  }

  const doc = block(0);
  if (pos !== lines.length) throw new Error(`line ${lines[pos]!.no}: unexpected content`);
  return doc;
}

function value(text: string, no: number): Yaml {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new Error(`line ${no}: a flow sequence must end on its line`);
    const inner = text.slice(1, -1).trim();
    if (inner === '') return [];
    return splitFlow(inner, no).map((item) => {
      const v = scalar(item.trim(), no);
      if (v === null) throw new Error(`line ${no}: empty flow sequence item`);
      return v;
    });
  }
  return scalar(text, no);
}

function scalar(text: string, no: number): string | null {
  if (text.startsWith('"')) {
    if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) throw new Error(`line ${no}: bad double-quoted string ${text}`);
    return JSON.parse(text) as string;
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new Error(`line ${no}: bad single-quoted string ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (/^[&*!|>%@`{]/.test(text) || text.includes(': ') || text.includes(' #')) {
    throw new Error(`line ${no}: ${JSON.stringify(text)} is outside the YAML subset (quote it)`);
  }
  if (text === '' || text === '~' || text === 'null') return null;
  return text; // booleans and numbers stay strings here; the test checks their spelling
}

function splitFlow(inner: string, no: number): string[] {
  const items: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (quote !== null) {
      current += c;
      if (c === '\\' && quote === '"') current += inner[++i] ?? '';
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      items.push(current);
      current = '';
    } else if (c === '[' || c === ']' || c === '{' || c === '}') {
      throw new Error(`line ${no}: nested flow collections are not in the subset`);
    } else {
      current += c;
    }
  }
  if (quote !== null) throw new Error(`line ${no}: unterminated string`);
  items.push(current);
  return items;
}

/** Drops a `#` comment that starts the line or follows whitespace, outside quotes. */
function stripComment(line: string, no: number): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      // A quote opens a string only at the start of a scalar.
      const before = line.slice(0, i).trimEnd();
      if (before === '' || /[:\-[,]$/.test(before)) quote = c;
    } else if (c === '#' && (i === 0 || line[i - 1] === ' ')) {
      return line.slice(0, i);
    }
  }
  if (quote !== null) throw new Error(`line ${no}: unterminated string`);
  return line;
}
