// The /init of the initramfs that scripts/emulate-avx512.sh boots in Bochs.
// A separate module so that `go test ./...`, `go vet ./...` and the package
// layering test of the main module skip it.
module github.com/moxing/moxing/scripts/emulate-avx512

go 1.26
