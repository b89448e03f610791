// Package kernel holds moxing's compute on raw []float32 slices: matrix
// multiply (GEMM), batched GEMM and the vector loops that tensor ops spend
// their time in. Nothing above package tensor (and optim, for fused updates)
// imports it, so the inside can be replaced by SIMD code without touching the
// callers.
//
// All matrices are row-major. A matrix with leading dimension ld stores
// element (i, j) at index i*ld + j.
package kernel
