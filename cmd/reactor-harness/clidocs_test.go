package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

var updateCLIDocs = flag.Bool("update-cli-docs", false, "rewrite docs/cli from the command tree")

// cliDocsDir holds one Markdown page per command, generated from the same
// tree the binary runs, so the reference cannot drift from --help.
const cliDocsDir = "../../docs/cli"

// TestCLIDocs fails when docs/cli is stale; regenerate it with
// go test ./cmd/reactor-harness -run TestCLIDocs -args -update-cli-docs
func TestCLIDocs(t *testing.T) {
	gen := t.TempDir()
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	root.DisableAutoGenTag = true // no date: the pages are reproducible
	if err := doc.GenMarkdownTree(root, gen); err != nil {
		t.Fatal(err)
	}
	if *updateCLIDocs {
		if err := os.RemoveAll(cliDocsDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(cliDocsDir, os.DirFS(gen)); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, _ := filepath.Glob(filepath.Join(gen, "*.md"))
	have, _ := filepath.Glob(filepath.Join(cliDocsDir, "*.md"))
	if len(want) != len(have) {
		t.Errorf("docs/cli has %d pages, the command tree %d", len(have), len(want))
	}
	for _, w := range want {
		g, _ := os.ReadFile(w)
		h, err := os.ReadFile(filepath.Join(cliDocsDir, filepath.Base(w)))
		if err != nil || !bytes.Equal(g, h) {
			t.Errorf("docs/cli/%s is stale or missing", filepath.Base(w))
		}
	}
	if t.Failed() {
		t.Log("regenerate: go test ./cmd/reactor-harness -run TestCLIDocs -args -update-cli-docs")
	}
}
