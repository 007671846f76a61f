# expect-fail: q6.soft_prompt_params.symbolic
# hint: pure arithmetic
def soft_prompt_params(n_prompt_tokens, embed_dim):
    return int(n_prompt_tokens) * int(embed_dim)
