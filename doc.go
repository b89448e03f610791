// Package moxing is a deep-learning framework and toolkit in pure Go: float32
// tensors with reverse-mode autograd, layers, losses and optimizers, verified
// against PyTorch, growing into data pipelines, training loops, GPT language
// models and a CLI.
//
// The module root holds no code beyond this comment and the test that keeps
// the package layering of docs/architecture.md. Start with packages tensor,
// nn and optim, and examples/binary-classifier.
package moxing
