package load

import (
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/client"
)

// NewClientAPI builds the pion API for SessionConfig.Client.API from opts.
// The returned function releases what the API holds; call it once every
// session has returned (it is kept so callers need not change when an
// option comes to own a resource).
func NewClientAPI(opts ...ClientOption) (*webrtc.API, func() error, error) {
	var c clientAPIConfig
	for _, o := range opts {
		o(&c)
	}
	if _, err := client.ParseInterceptors(string(c.api.Interceptors)); err != nil {
		return nil, nil, &UsageError{err}
	}
	api, err := client.NewAPI(c.api)
	if err != nil {
		return nil, nil, err
	}
	return api, func() error { return nil }, nil
}
