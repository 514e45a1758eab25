// Tokenizes specs with the extension's TextMate grammar, as VS Code does (vscode-textmate + oniguruma),
// and checks the scopes of the tokens that matter: keywords, names, layers, strings, numbers, comments.
// Usage: node test/grammar.test.js SPEC.net...   (prints "N passed, M failed"; exit 1 on a failure)
"use strict";

const fs = require("fs");
const path = require("path");
const assert = require("assert");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.resolve(__dirname, "..");
const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));

async function loadGrammar() {
  await oniguruma.loadWASM(wasm.buffer);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.netc") return null;
      const file = path.join(root, "syntaxes", "netc.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  return registry.loadGrammar("source.netc");
}

function tokenize(grammar, text) {
  const out = [];
  let state = vsctm.INITIAL;
  text.split("\n").forEach((line, index) => {
    const result = grammar.tokenizeLine(line, state);
    for (const t of result.tokens) {
      out.push({ line: index, start: t.startIndex, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    state = result.ruleStack;
  });
  return out;
}

const has = (token, prefix) => token.scopes.some((s) => s.startsWith(prefix));

// What every spec must satisfy, whatever it contains.
function checkSpec(grammar, file) {
  const text = fs.readFileSync(file, "utf8");
  const tokens = tokenize(grammar, text);
  const problems = [];
  for (const t of tokens) {
    const word = t.text.trim();
    if (!word) continue;
    const inComment = has(t, "comment");
    const inString = has(t, "string");
    if (word.startsWith("#") && !inString && !inComment) problems.push(`a comment is not scoped as one: ${word}`);
    if (inComment || inString) continue;
    if (/^(model|block)$/.test(word) && !has(t, "storage.type")) problems.push(`keyword ${word} at ${t.line + 1}`);
    if (/^(train|search|ensemble)$/.test(word) && !has(t, "keyword.other.directive") && !has(t, "entity.name.function")) {
      problems.push(`directive ${word} at ${t.line + 1}`);
    }
    if (/^(repeat|residual|shortcut|branch|path|if|else|from|input|output)$/.test(word) && !has(t, "keyword.control")) {
      problems.push(`keyword ${word} at ${t.line + 1}: ${t.scopes.join(" ")}`);
    }
    if (/^(true|false|none)$/.test(word) && !has(t, "constant.language")) problems.push(`constant ${word} at ${t.line + 1}`);
    if (/^[0-9]/.test(word) && !has(t, "constant.numeric")) problems.push(`number ${word} at ${t.line + 1}`);
    if (/^"/.test(word)) problems.push(`a string is not scoped as one at ${t.line + 1}`);
  }
  // every layer call (a CamelCase name before '(') is a layer, every comment a comment
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    const code = line.replace(/"[^"]*"|'[^']*'/g, (s) => " ".repeat(s.length));
    const hash = code.indexOf("#");
    for (const m of code.slice(0, hash < 0 ? undefined : hash).matchAll(/\b([A-Z][A-Za-z0-9_]*)\s*\(/g)) {
      const t = tokens.find((x) => x.line === index && x.start <= m.index && m.index < x.start + x.text.length);
      if (!t || !(has(t, "support.class.layer") || has(t, "entity.name.type"))) {
        problems.push(`layer ${m[1]} at ${index + 1}: ${t ? t.scopes.join(" ") : "no token"}`);
      }
    }
    if (hash >= 0) {
      const t = tokens.find((x) => x.line === index && x.start <= hash && hash < x.start + x.text.length);
      if (!t || !has(t, "comment.line.number-sign")) problems.push(`comment at ${index + 1}`);
    }
  });
  return problems;
}

// Exact scopes on a sample that has every construct.
const SAMPLE = `block sep_bn(filters: int, kernel: int = 3) {  # a block
    SeparableConv2D(filters, kernel, padding="same", use_bias=false)
}
model Net(width: int = 64) {
    data_format channels_first
    input x: (3, 32, 32)
    repeat i in 2 { sep_bn(width * 2) }
    residual { Conv2D(8, 3) } shortcut { } as r
    branch Concatenate(axis=channels) { path { } }
    Dense(1e-3) <- r, x as y
    output y
}
train Net(lr: float = 1e-3) {
    optimizer Adam(learning_rate=lr)
    epochs 30
}
search Net {
    width = choice(32, 64)
    objective val_accuracy maximize
}
ensemble Best {
    members Net.top(5), GradientBoosting(max_iter=300)
}`;

function scopeOf(tokens, line, text) {
  const t = tokens.find((x) => x.line === line && x.text === text);
  assert.ok(t, `no token ${JSON.stringify(text)} on line ${line + 1}`);
  return t.scopes[t.scopes.length - 1];
}

function checkSample(grammar) {
  const tokens = tokenize(grammar, SAMPLE);
  const expect = [
    [0, "block", "storage.type.block.netc"], [0, "sep_bn", "entity.name.function.block.netc"],
    [0, "filters", "variable.parameter.netc"], [0, "int", "support.type.netc"],
    [0, " a block", "comment.line.number-sign.netc"], [0, "3", "constant.numeric.integer.netc"],
    [1, "SeparableConv2D", "support.class.layer.netc"], [1, "padding", "variable.parameter.argument.netc"],
    [1, "false", "constant.language.netc"], [3, "Net", "entity.name.type.model.netc"],
    [4, "data_format", "keyword.control.netc"], [4, "channels_first", "support.constant.data-format.netc"],
    [5, "input", "keyword.control.input.netc"], [5, "x", "variable.other.tensor.netc"],
    [6, "repeat", "keyword.control.netc"], [6, "in", "keyword.control.netc"],
    [6, "sep_bn", "entity.name.function.call.netc"], [6, "*", "keyword.operator.arithmetic.netc"],
    [7, "shortcut", "keyword.control.netc"], [7, "r", "variable.other.tensor.netc"],
    [8, "channels", "support.constant.netc"], [8, "path", "keyword.control.netc"],
    [9, "1e-3", "constant.numeric.float.netc"], [9, "<-", "keyword.operator.merge.netc"],
    [10, "output", "keyword.control.netc"], [12, "train", "keyword.other.directive.netc"],
    [13, "optimizer", "keyword.other.setting.netc"], [13, "Adam", "support.class.layer.netc"],
    [14, "epochs", "keyword.other.setting.netc"], [16, "search", "keyword.other.directive.netc"],
    [17, "width", "variable.parameter.netc"], [17, "choice", "entity.name.function.call.netc"],
    [18, "maximize", "support.constant.netc"], [21, "members", "keyword.other.setting.netc"],
    [21, "top", "entity.name.function.method.netc"],
  ];
  for (const [line, text, scope] of expect) {
    assert.strictEqual(scopeOf(tokens, line, text), scope, `${JSON.stringify(text)} on line ${line + 1}`);
  }
  const strings = tokens.filter((t) => t.text === "same");
  assert.ok(strings.length === 1 && has(strings[0], "string.quoted.double"), "a string's body is a string");
  return expect.length;
}

(async () => {
  const grammar = await loadGrammar();
  let passed = 0;
  let failed = 0;
  try {
    passed += checkSample(grammar) > 0 ? 1 : 0;
  } catch (e) {
    failed += 1;
    console.error(`sample: ${e.message}`);
  }
  for (const file of process.argv.slice(2)) {
    const problems = checkSpec(grammar, file);
    if (problems.length) {
      failed += 1;
      console.error(`${file}:\n  ${problems.slice(0, 10).join("\n  ")}`);
    } else {
      passed += 1;
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
