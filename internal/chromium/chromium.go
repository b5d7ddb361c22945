// Package chromium holds how this project starts Debian's headless
// Chromium for its browser tests: the binary and the flags that keep it
// off the network and out of the sandbox a test run cannot have. It must
// not know what the tests do with the browser.
package chromium

import "github.com/chromedp/chromedp"

// Path is Debian's chromium package binary; downloaded builds do not run
// on the machines this project targets.
const Path = "/usr/bin/chromium"

// Options are the allocator options every browser test shares: headless,
// no sandbox or GPU, no background traffic, /tmp instead of /dev/shm.
// Callers add their profile directory and anything of their own.
func Options() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
}
