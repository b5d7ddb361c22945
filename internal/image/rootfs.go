package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"time"
)

// The image's user: the conventional "nonroot" of minimal images, so that
// a cluster's runAsNonRoot policy accepts it.
const (
	UID      = 65532
	HomeDir  = "/home/nonroot"
	BinPath  = "/usr/local/bin/reactor-harness"
	CAPath   = "/etc/ssl/certs/ca-certificates.crt"
	pathEnv  = "PATH=/usr/local/bin:/usr/bin:/bin"
	passwd   = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group    = "root:x:0:\nnonroot:x:65532:\n"
	nsswitch = "hosts: files dns\n"
	// hosts lets "localhost" resolve where the runtime mounts no /etc/hosts
	// (a plain chroot); container runtimes replace it with their own.
	hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
)

type entry struct {
	name string
	mode int64
	uid  int
	body []byte // nil for a directory
}

// rootFS is the one layer's tar: directories first, in path order, so
// that the tar is the same bytes for the same inputs.
func rootFS(binary, caCerts string, mtime time.Time) ([]byte, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/hosts", mode: 0o644, body: []byte(hosts)},
		{name: "etc/nsswitch.conf", mode: 0o644, body: []byte(nsswitch)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
	}
	if caCerts != "" {
		ca, err := os.ReadFile(caCerts)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755},
			entry{name: "etc/ssl/certs/", mode: 0o755},
			entry{name: CAPath[1:], mode: 0o644, body: ca})
	}
	entries = append(entries,
		entry{name: "home/", mode: 0o755},
		entry{name: HomeDir[1:] + "/", mode: 0o755, uid: UID},
		entry{name: "tmp/", mode: 0o1777},
		entry{name: "usr/", mode: 0o755},
		entry{name: "usr/local/", mode: 0o755},
		entry{name: "usr/local/bin/", mode: 0o755},
		entry{name: BinPath[1:], mode: 0o755, body: bin})
	return writeTar(entries, mtime)
}

func writeTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if e.body == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
