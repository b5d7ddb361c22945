package mockrun

import (
	"encoding/json"
	"io"
	"os"
	"strings"
)

// Ready is the one JSON line `mock --json` prints once it accepts
// connections. Its field names are a contract with the pytest and Node
// integrations (integrations/), which read nothing else from stdout.
type Ready struct {
	Event    string `json:"event"` // always "ready"
	BaseURL  string `json:"base_url"`
	APIKey   string `json:"api_key"`
	AdminURL string `json:"admin_url"`
	PID      int    `json:"pid"`
}

// NewReady describes a mock listening at baseURL (the real port, also when
// it was asked for port 0) that accepts apiKey.
func NewReady(baseURL, apiKey string) Ready {
	base := strings.TrimRight(baseURL, "/")
	return Ready{Event: "ready", BaseURL: base, APIKey: apiKey,
		AdminURL: base + "/__admin", PID: os.Getpid()}
}

// Write prints r as a single line. The caller writes nothing else to w
// afterwards, so a reader may stop at the first newline.
func (r Ready) Write(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
