package tensor

// AttentionDropMask exposes attentionDropMask to the external tests.
var AttentionDropMask = attentionDropMask
