package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The official OpenAI Node client (npm openai, pinned in
// tools/openai-client) talks to moxing serve on loopback: models,
// completions and chat completions streamed and not, embeddings and errors
// (tools/openai-client/check.mjs). scripts/test.sh installs the client;
// under CI=true a missing client or Node fails the test.
func TestOpenAIClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server and Node")
	}
	client, _ := filepath.Abs("../../tools/openai-client")
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(client, "node_modules", "openai")); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node (%v) or the openai package (%v) is missing: scripts/test.sh installs them", err, statErr)
		}
		t.Skip("no node or no openai package: npm ci --prefix tools/openai-client")
	}
	url := startServer(t, tinyRun(t))
	cmd := exec.Command(node, filepath.Join(client, "check.mjs"), url, "tiny")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("check.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
