package image

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reactor-harness/reactor-harness/internal/imageref"
)

// Options say what goes into the image. Empty label fields are read from
// the binary's build info.
type Options struct {
	Binary   string    // static Linux binary (required)
	CACerts  string    // PEM bundle copied to /etc/ssl/certs; "" leaves it out
	Version  string    // org.opencontainers.image.version; default: the module version
	Revision string    // org.opencontainers.image.revision; default: vcs.revision
	Source   string    // org.opencontainers.image.source; default: https://<module path>
	Created  time.Time // every file time and the image's creation time; zero: the Unix epoch
}

// Image is a built image and the reference it is tagged with.
type Image struct {
	v1.Image
	Ref    string // name:tag, as imageref derives it from the binary
	Labels map[string]string
}

// Build assembles the image; it fails on a binary that is not static.
func Build(o Options) (*Image, error) {
	arch, err := CheckStatic(o.Binary)
	if err != nil {
		return nil, err
	}
	bi, err := buildinfo.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("%s: no Go build info: %w", o.Binary, err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	rootTar, err := rootFS(o.Binary, o.CACerts, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	labels := labelsFor(o, bi)
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", UID, UID),
			Entrypoint: []string{"reactor-harness"},
			Env:        []string{pathEnv},
			WorkingDir: HomeDir,
			Labels:     labels,
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "reactor-harness internal/image", Comment: "static binary, non-root user"}})
	if err != nil {
		return nil, err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
		return nil, err
	}
	img = mutate.Annotations(img, labels).(v1.Image)
	return &Image{Image: img, Ref: imageref.FromBuildInfo(bi), Labels: labels}, nil
}

func labelsFor(o Options, bi *buildinfo.BuildInfo) map[string]string {
	version, revision, source := o.Version, o.Revision, o.Source
	if version == "" {
		version = imageref.Tag(bi.Main.Version)
	}
	if revision == "" {
		revision = setting(bi, "vcs.revision")
	}
	if source == "" && bi.Main.Path != "" {
		source = "https://" + bi.Main.Path
	}
	labels := map[string]string{
		"org.opencontainers.image.title":   imageref.Name,
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  source,
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	return labels
}

func setting(bi *buildinfo.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Write puts the image in dir as an OCI layout (dir/oci) and as a loadable
// tarball (dir/reactor-harness.tar), and returns the tarball's path.
func (img *Image) Write(dir string) (string, error) {
	tag, err := name.NewTag(img.Ref)
	if err != nil {
		return "", err
	}
	p, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		return "", err
	}
	if err := p.AppendImage(img.Image, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          img.Ref,
	})); err != nil {
		return "", err
	}
	tarPath := filepath.Join(dir, imageref.Name+".tar")
	return tarPath, tarball.WriteToFile(tarPath, tag, img.Image)
}
