package load

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxCommandSize is the largest --command-size: the 64 MiB a chunking
// runtime accepts (PROTOCOL.md §9.2).
const MaxCommandSize = 64 << 20

var sizeSuffixes = []struct {
	suffix string
	mult   int
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"kB", 1000}, {"MB", 1000 * 1000}, {"B", 1}}

// ParseCommandSize reads a byte count: "1048576", "300kB", "1MiB". It
// refuses negative values and values over MaxCommandSize.
func ParseCommandSize(s string) (int, error) {
	num, mult := strings.TrimSpace(s), 1
	for _, x := range sizeSuffixes {
		if rest, ok := strings.CutSuffix(num, x.suffix); ok {
			num, mult = strings.TrimSpace(rest), x.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("command size %q: want a byte count such as 300kB or 1MiB", s)
	}
	if n > MaxCommandSize/mult {
		return 0, fmt.Errorf("command size %q is over the %d-byte limit of a chunked data channel", s, MaxCommandSize)
	}
	return n * mult, nil
}

// padPrompt grows a prompt to size bytes, so a bare set_prompt carries a
// command of about that size; a longer prompt is kept as is.
func padPrompt(p string, size int) string {
	if len(p) >= size {
		return p
	}
	return p + " " + strings.Repeat("x", max(size-len(p)-1, 0))
}
