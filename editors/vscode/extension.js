// The netc extension: a TextMate grammar (package.json) and a client that starts `netc lsp`.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("netc");
  const [command, ...args] = config.get("server.command", ["netc", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "netc" }, { scheme: "untitled", language: "netc" }],
    initializationOptions: { debounce_ms: config.get("server.debounceMs", 0) },
    outputChannelName: "netc",
  };
  client = new LanguageClient("netc", "netc language server", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("netc.restartServer", () => client.restart()),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
