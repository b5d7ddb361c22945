package load

import (
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/client"
)

// NewClientAPI builds the pion API for SessionConfig.Client.API from opts.
// A bad option is a UsageError.
func NewClientAPI(opts ...ClientOption) (*webrtc.API, error) {
	var c clientAPIConfig
	for _, o := range opts {
		o(&c)
	}
	if _, err := client.ParseInterceptors(string(c.api.Interceptors)); err != nil {
		return nil, &UsageError{err}
	}
	return client.NewAPI(c.api)
}
