package load

import "testing"

func TestParseCommandSize(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "1048576": 1 << 20, "300kB": 300_000, "1MiB": 1 << 20,
		"4 KiB": 4096, "64MiB": MaxCommandSize, "2MB": 2_000_000, "12B": 12} {
		if got, err := ParseCommandSize(in); err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "lots", "65MiB", "1GiB", "1.5MiB", "99999999999999999999"} {
		if _, err := ParseCommandSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestBareSetPromptIsPaddedToTheCommandSize(t *testing.T) {
	d := stepData(CommandStep{Name: "set_prompt"}, 3, 1, 1<<20)
	if p, _ := d["prompt"].(string); len(p) != 1<<20 {
		t.Fatalf("prompt has %d bytes, want %d", len(p), 1<<20)
	}
	if p, _ := stepData(CommandStep{Name: "set_prompt"}, 3, 1, 0)["prompt"].(string); p != "load session 3 prompt 1" {
		t.Fatalf("unpadded prompt %q", p)
	}
	given := map[string]any{"prompt": "mine"}
	if d := stepData(CommandStep{Name: "set_prompt", Data: given}, 1, 1, 1<<20); d["prompt"] != "mine" {
		t.Fatal("a prompt the user gave was padded")
	}
}
