package train

import (
	"fmt"

	"github.com/moxing/moxing/nn"
)

// ScoreText scores ids with a language model: the log-probability of each
// token but the first given those before it, in windows of window tokens
// that each start afresh (a token sees at most the window's tokens before
// it). each, when not nil, receives every scored token and its
// log-probability in order. It returns the mean cross-entropy in nats per
// token and the number of tokens scored. The model is not changed.
func ScoreText(m LanguageModel, ids []int, window int, each func(target int, logp float64)) (mean float64, n int, err error) {
	if len(ids) < 2 {
		return 0, 0, fmt.Errorf("%d tokens: need at least 2 to score one", len(ids))
	}
	if window < 1 {
		return 0, 0, fmt.Errorf("window %d: want at least 1", window)
	}
	inf := nn.Detach(m)
	nn.Eval(inf)
	var sum float64
	for start := 0; start+1 < len(ids); start += window {
		end := min(start+window+1, len(ids))
		x, y := ids[start:end-1], ids[start+1:end]
		logits, _ := inf.Forward(x, 1, len(x), nil)
		logp := logits.LogSoftmax(-1) // (1, T, V)
		v := logp.Dim(-1)
		for i, target := range y {
			lp := float64(logp.Data[i*v+target])
			sum -= lp
			n++
			if each != nil {
				each(target, lp)
			}
		}
	}
	return sum / float64(n), n, nil
}
