//go:build !linux

package media

import "time"

// alarm has no implementation outside Linux; newAlarm returns nil and the
// waker uses its Go timer alone.
type alarm struct{ c chan struct{} }

func newAlarm() *alarm               { return nil }
func (a *alarm) set(d time.Duration) {}
func (a *alarm) close()              {}
