package impair

import (
	"net"

	"github.com/pion/transport/v5"
)

// Net is a pion transport.Net whose UDP sockets are impaired by an
// engine: give it to the SettingEngine (SetNet) so every ICE host socket
// goes through the timeline.
type Net struct {
	transport.Net
	e *Engine
}

// WrapNet returns n with its UDP sockets impaired by e.
func WrapNet(n transport.Net, e *Engine) *Net { return &Net{n, e} }

// ListenUDP opens an impaired UDP socket.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &UDPConn{c, n.e}, nil
}
