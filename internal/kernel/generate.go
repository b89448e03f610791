package kernel

//go:generate go run -C asm . -out ../sgemm_amd64.s -stubs ../sgemm_amd64.go -pkg kernel
