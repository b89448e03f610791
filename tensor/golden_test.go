package tensor_test

import (
	"math"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

type fn = tensortest.Func

// goldenOps maps each op name in testdata/ops.json to the moxing expression
// that should compute the same thing.
var goldenOps = map[string]func(c *tensortest.Case) fn{
	"add": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Add(x[1]) } },
	"sub": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Sub(x[1]) } },
	"mul": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Mul(x[1]) } },
	"div": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Div(x[1]) } },
	"neg": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Neg() } },
	"add_scalar": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].AddScalar(c.Float("s")) }
	},
	"mul_scalar": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].MulScalar(c.Float("s")) }
	},
	"exp":  func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Exp() } },
	"log":  func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Log() } },
	"sqrt": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Sqrt() } },
	"pow": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Pow(c.Float("p")) }
	},
	"abs": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Abs() } },
	"clamp": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Clamp(c.Float("lo"), c.Float("hi")) }
	},
	"sigmoid":  func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Sigmoid() } },
	"relu":     func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].ReLU() } },
	"tanh":     func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Tanh() } },
	"gelu":     func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].GELU() } },
	"softplus": func(*tensortest.Case) fn { return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Softplus() } },
	"softmax": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Softmax(c.Int("axis")) }
	},
	"log_softmax": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].LogSoftmax(c.Int("axis")) }
	},
	"sum": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Sum(c.Bool("keep"), c.Ints("axes")...) }
	},
	"mean": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Mean(c.Bool("keep"), c.Ints("axes")...) }
	},
	"max": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Max(c.Bool("keep"), c.Ints("axes")...) }
	},
	"var": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return x[0].Var(c.Bool("keep"), c.Int("correction"), c.Ints("axes")...)
		}
	},
	"matmul": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].MatMulT(x[1], c.Bool("ta"), c.Bool("tb")) }
	},
	"reshape": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Reshape(c.Ints("shape")...) }
	},
	"unsqueeze": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Unsqueeze(c.Int("axis")) }
	},
	"permute": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Permute(c.Ints("perm")...) }
	},
	"transpose": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Transpose(c.Int("i"), c.Int("j")) }
	},
	"slice": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return x[0].Slice(c.Int("axis"), c.Int("start"), c.Int("end"))
		}
	},
	"concat": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return tensor.Concat(c.Int("axis"), x...) }
	},
	"stack": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return tensor.Stack(c.Int("axis"), x...) }
	},
	"index_select": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].IndexSelect(c.Int("axis"), c.Ints("idx")) }
	},
	"gather": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Gather(c.Int("axis"), c.Ints("idx")) }
	},
	"embedding_bag": func(c *tensortest.Case) fn {
		var weights []float32
		if _, ok := c.Attrs["weights"]; ok {
			weights = c.Floats("weights")
		}
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return tensor.EmbeddingBag(x[0], c.Ints("ids"), c.Ints("offsets"), weights, c.Bool("mean"))
		}
	},
	"where": func(*tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return tensor.Where(x[0], x[1], x[2]) }
	},
	"masked_fill": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].MaskedFill(x[1], c.Float("value")) }
	},
	"attention": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			q, k, v, mask := x[0], x[1], x[2], x[3]
			att := q.MatMulT(k, false, true).MulScalar(c.Float("scale")) // (B, T, T)
			return att.MaskedFill(mask, float32(negInf)).Softmax(-1).MatMul(v)
		}
	},
}

var negInf = math.Inf(-1)

// TestGoldenOps checks every op against PyTorch (forward output and input
// gradients) and against finite differences, on the same inputs.
func TestGoldenOps(t *testing.T) {
	tensortest.RunGolden(t, "../testdata/ops.json", goldenOps, 1e-4, 1e-5)
}
