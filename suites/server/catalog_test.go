package server

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateCatalog = flag.Bool("update-catalog", false, "rewrite docs/server-cases.md from the registry")

// catalogDoc is docs/server-cases.md relative to this package.
var catalogDoc = filepath.Join("..", "..", "docs", "server-cases.md")

func TestCatalogValid(t *testing.T) {
	if err := ValidateCatalog(); err != nil {
		t.Fatal(err)
	}
	if len(Catalog()) == 0 {
		t.Fatal("the catalog is empty")
	}
	for _, a := range Areas {
		if len(CasesOf(a)) == 0 {
			t.Errorf("area %s (%s) has no cases", a.Prefix, a.File)
		}
		if _, err := os.Stat(a.File); err != nil {
			t.Errorf("area %s: catalog file %s: %v", a.Prefix, a.File, err)
		}
	}
	for _, c := range Catalog() {
		if a, _ := areaOf(c.ID); c.File != "" && filepath.Base(c.File) != a.File {
			t.Errorf("%s is registered in %s, expected in %s (one file per protocol section)", c.ID, filepath.Base(c.File), a.File)
		}
	}
}

// TestCatalogDoc keeps docs/server-cases.md in step with the registry.
// Regenerate with: go test ./suites/server -run TestCatalogDoc -args -update-catalog
func TestCatalogDoc(t *testing.T) {
	want := Markdown()
	if *updateCatalog {
		if err := os.MkdirAll(filepath.Dir(catalogDoc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(catalogDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(catalogDoc)
	if err != nil {
		t.Fatalf("%v; generate it with: go test ./suites/server -run TestCatalogDoc -args -update-catalog", err)
	}
	if string(got) != want {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		t.Fatalf("docs/server-cases.md is stale (first difference at line %d); regenerate it with:\n  go test ./suites/server -run TestCatalogDoc -args -update-catalog", line+1)
	}
}
