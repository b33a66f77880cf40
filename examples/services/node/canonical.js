'use strict';
// The reconciliation contract's canonical JSON, byte for byte as Python's
//   json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// encoded as UTF-8. JSON.parse cannot be used for this: it turns 1.0 into 1 and rounds
// integers past 2**53, and Python keeps both. So this file parses JSON itself, the way
// Python's json module does (ints as BigInt, floats as numbers, NaN and Infinity
// accepted), and writes it back the way Python does.

class JsonError extends Error {}

class PyFloat {
  constructor(value) {
    this.value = value;
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

// Parse JSON text into null, booleans, strings, BigInt (integers), PyFloat (floats),
// arrays and Maps (objects; a repeated key keeps its last value, as in Python).
// With { constants: false }, NaN and Infinity are refused: they are not JSON (RFC 8259).
function parse(text, { constants = true } = {}) {
  let i = 0;
  const fail = (what) => {
    throw new JsonError(`${what} at character ${i}`);
  };
  const skip = () => {
    while (i < text.length && WHITESPACE.has(text[i])) i++;
  };
  const literal = (word, value) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail('unexpected character');
  };
  const string = () => {
    i++; // the opening quote
    let out = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string');
      if (c === '"') {
        i++;
        return out;
      }
      if (c < ' ') fail('control character in a string');
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16)); // pairs join as UTF-16 does
        i += 6;
      } else if (e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
      } else {
        fail('bad escape');
      }
    }
  };
  const value = () => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      const map = new Map();
      skip();
      if (text[i] === '}') {
        i++;
        return map;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        skip();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        map.set(key, value());
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return map;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const list = [];
      skip();
      if (text[i] === ']') {
        i++;
        return list;
      }
      for (;;) {
        list.push(value());
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return list;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === 'n') return literal('null', null);
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (!constants && (c === 'N' || c === 'I' || text.startsWith('-I', i))) fail('not JSON');
    if (c === 'N') return literal('NaN', new PyFloat(NaN));
    if (c === 'I') return literal('Infinity', new PyFloat(Infinity));
    if (c === '-' && text.startsWith('-Infinity', i)) return literal('-Infinity', new PyFloat(-Infinity));
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) fail('unexpected character');
    i += m[0].length;
    return m[1] !== undefined || m[2] !== undefined ? new PyFloat(Number(m[0])) : BigInt(m[0]);
  };
  const result = value();
  skip();
  if (i !== text.length) fail('extra data');
  return result;
}

// Python's repr of a float: the shortest digits that round-trip (JavaScript finds the
// same ones), in fixed notation while the exponent is in [-4, 16), else as 1.5e+16.
function floatRepr(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${rest}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const fraction = digits.slice(e + 1);
  return `${sign}${whole}.${fraction || '0'}`;
}

function quote(s) {
  let out = '"';
  for (const c of s) {
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (c < ' ') out += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

// Python sorts str keys by code point; JavaScript's sort compares UTF-16 units, which
// puts U+E000..U+FFFF after the astral planes. Shift the units so they compare as code points.
function byCodePoint(a, b) {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    let x = a.charCodeAt(k);
    let y = b.charCodeAt(k);
    if (x === y) continue;
    x = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x;
    y = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y;
    return x - y;
  }
  return a.length - b.length;
}

function stringify(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (typeof v === 'string') return quote(v);
  if (Array.isArray(v)) return `[${v.map(stringify).join(',')}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(byCodePoint);
    return `{${keys.map((k) => `${quote(k)}:${stringify(v.get(k))}`).join(',')}}`;
  }
  throw new TypeError(`not a parsed JSON value: ${typeof v}`);
}

// A lone surrogate (from a "\ud800" escape) has no UTF-8 form: Python cannot encode the
// canonical text either. Such a report is refused rather than digested two ways.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
function hasLoneSurrogate(v) {
  if (typeof v === 'string') return LONE_SURROGATE.test(v);
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  if (v instanceof Map) return [...v].some(([k, e]) => hasLoneSurrogate(k) || hasLoneSurrogate(e));
  return false;
}

// The canonical UTF-8 bytes of JSON text.
function canonicalJson(text) {
  return Buffer.from(stringify(parse(text)), 'utf8');
}

module.exports = { JsonError, PyFloat, parse, stringify, canonicalJson, hasLoneSurrogate, floatRepr };

// `node canonical.js` reads JSON texts, one per line, and writes each canonical form as a
// line of hex (tests compare them with Python's); a text it refuses gives "error".
if (require.main === module) {
  const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
  for (const line of lines) {
    let out;
    try {
      const value = parse(JSON.parse(line));
      out = hasLoneSurrogate(value) ? 'error' : Buffer.from(stringify(value), 'utf8').toString('hex');
    } catch (err) {
      if (!(err instanceof JsonError)) throw err;
      out = 'error';
    }
    process.stdout.write(`${out}\n`);
  }
}
