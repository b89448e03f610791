/* llama.cpp's own quantizer, llama_model_quantize from the prebuilt
   libllama of @node-llama-cpp/linux-x64: quantize IN.gguf OUT.gguf writes
   IN's matrices as Q8_0. cmd/moxing's TestLlamaCpp builds it against the
   llama.h of the sources node-llama-cpp ships (llama/gitRelease.bundle). */
#include <stdio.h>
#include "llama.h"

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: quantize IN.gguf OUT.gguf\n");
		return 2;
	}
	llama_backend_init();
	llama_model_quantize_params p = llama_model_quantize_default_params();
	p.ftype = LLAMA_FTYPE_MOSTLY_Q8_0;
	p.nthread = 1;
	uint32_t err = llama_model_quantize(argv[1], argv[2], &p);
	llama_backend_free();
	return err != 0;
}
