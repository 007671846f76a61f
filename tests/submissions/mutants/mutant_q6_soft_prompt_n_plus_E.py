# expect-fail: q6.soft_prompt_params.numeric q6.soft_prompt_params.symbolic
# hint: multiply, do not add
def soft_prompt_params(n_prompt_tokens, embed_dim):
    return n_prompt_tokens + embed_dim
