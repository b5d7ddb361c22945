package mockserver

import (
	"testing"

	"github.com/reactor-harness/reactor-harness/mockserver/model"
)

// TestModelsCatalog holds every built-in model to its spec: its names
// resolve to it, its command schemas compile, and its clip plays at the
// advertised rate and size in whole chunks.
func TestModelsCatalog(t *testing.T) {
	models := DefaultModels()
	if len(models) < 2 || models[0] != HeliosModel() {
		t.Fatalf("default models %d, first %s: want Helios first and LingBot beside it", len(models), models[0].Name())
	}
	for _, m := range models {
		for _, n := range m.Names() {
			if got, ok := LookupModel(n); !ok || got != m {
				t.Errorf("%s: name %q does not resolve to it", m.Name(), n)
			}
		}
		if _, err := model.NewCatalog(m.Capabilities().Commands); err != nil {
			t.Errorf("%s: %v", m.Name(), err)
		}
		clip, err := m.Clip()
		if err != nil {
			t.Fatalf("%s: clip: %v", m.Name(), err)
		}
		w, h := m.VideoSize()
		if fps := m.Capabilities().EmissionFPS; fps == nil || int(*fps) != clip.FPS {
			t.Errorf("%s: emission_fps %v, clip plays at %d", m.Name(), fps, clip.FPS)
		}
		if clip.Width != w || clip.Height != h {
			t.Errorf("%s: advertises %dx%d, clip is %dx%d", m.Name(), w, h, clip.Width, clip.Height)
		}
		if clip.Frames()%m.ChunkFrames() != 0 {
			t.Errorf("%s: %d clip frames are not whole chunks of %d", m.Name(), clip.Frames(), m.ChunkFrames())
		}
	}
	lb, ok := LookupModel("@reactor-models/lingbot")
	if !ok || lb.Semantics().Name() != "lingbot" {
		t.Fatalf("@reactor-models/lingbot resolves to %v", lb)
	}
	if w, h := lb.VideoSize(); w != 1664 || h != 960 || *lb.Capabilities().EmissionFPS != 16 {
		t.Fatalf("LingBot: %dx%d at %v fps", w, h, *lb.Capabilities().EmissionFPS)
	}
}
