package image_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/reactor-harness/reactor-harness/internal/image"
)

// buildStatic builds the CLI as `make build` does.
func buildStatic(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reactor-harness")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "../../cmd/reactor-harness")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestImageRunsTheStaticBinaryAsNonRoot(t *testing.T) {
	bin := buildStatic(t)
	opts := image.Options{Binary: bin, Revision: "0123abcd", Created: time.Unix(1796669830, 0)}
	img, err := image.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := image.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("same inputs, two digests: %s, %s", d1, d2)
	}

	out := t.TempDir()
	tarPath, err := img.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	checkTarball(t, tarPath, img.Ref)
	root := unpackLayout(t, filepath.Join(out, "oci"))

	if _, err := image.CheckStatic(filepath.Join(root, image.BinPath)); err != nil {
		t.Fatal(err)
	}
	if v := run(t, root, "version"); !strings.HasPrefix(v, "reactor-harness ") {
		t.Fatalf("version printed %q", v)
	}
	// A real load against the embedded mock: WebRTC, the data channel and
	// the results folder, from inside the image's root.
	run(t, root, "load", "--sessions", "3", "--duration", "4s", "--command-interval", "1s", "--out", "/tmp/results")
	summary, err := os.ReadFile(filepath.Join(root, "tmp/results/summary.json"))
	if err != nil {
		t.Fatalf("load wrote no summary: %v", err)
	}
	var sum struct {
		Counters map[string]int64 `json:"counters"`
	}
	if err := json.Unmarshal(summary, &sum); err != nil || sum.Counters["sessions_ready"] != 3 {
		t.Fatalf("summary.json: %v, counters %v, want 3 sessions ready", err, sum.Counters)
	}
}

// unpackLayout reads the image back from its OCI layout, checks its
// config, and extracts its filesystem into a temporary root.
func unpackLayout(t *testing.T, dir string) string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %v, %d manifests", err, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "reactor-harness" || cf.OS != "linux" {
		t.Fatalf("config: user %q, entrypoint %q, os %q", c.User, c.Entrypoint, cf.OS)
	}
	for _, k := range []string{"version", "source", "revision"} {
		if c.Labels["org.opencontainers.image."+k] == "" {
			t.Errorf("label org.opencontainers.image.%s missing: %v", k, c.Labels)
		}
	}
	if c.Labels["org.opencontainers.image.revision"] != "0123abcd" {
		t.Errorf("revision label %q", c.Labels["org.opencontainers.image.revision"])
	}
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	extract(t, tar.NewReader(rc), root)
	return root
}

func extract(t *testing.T, tr *tar.Reader, root string) {
	t.Helper()
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm()|os.ModeSticky&os.FileMode(h.Mode))
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		default:
			t.Fatalf("unexpected entry %s (type %c)", h.Name, h.Typeflag)
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(p, h.Uid, h.Gid)
		}
		if err == nil {
			err = os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// run runs the image's binary. As root (CI) it runs as the container
// would: chrooted into the image's root, as the image's user, in its
// working directory, with nothing of the host's filesystem, so a missing
// libc or loader would stop it. Otherwise it runs the binary from the
// unpacked root, after CheckStatic proved it needs no loader.
func run(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command(image.BinPath, args...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + image.HomeDir}
	if os.Geteuid() == 0 {
		cmd.Dir = image.HomeDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root,
			Credential: &syscall.Credential{Uid: image.UID, Gid: image.UID}}
	} else {
		t.Log("not root: running the unpacked binary without chroot")
		cmd.Path = filepath.Join(root, image.BinPath)
		for i, a := range args {
			if strings.HasPrefix(a, "/tmp/") {
				args[i] = filepath.Join(root, a)
			}
		}
		cmd.Args = append([]string{cmd.Path}, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

// checkTarball proves the loadable tarball names the image's reference.
func checkTarball(t *testing.T, path, ref string) {
	t.Helper()
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != ref {
		t.Fatalf("tarball manifest %s, want tag %s", b, ref)
	}
}

func TestBuildRejectsADynamicBinary(t *testing.T) {
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		_, err := image.Build(image.Options{Binary: p})
		if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
			t.Fatalf("Build(%s): %v, want a dynamically-linked error", p, err)
		}
		return
	}
	t.Fatal("no dynamically linked binary on this machine to test with")
}
