# expect-fail: q6.answers.q6b
# one prompt vector counted plus the number of tokens
ANSWERS["q6b"] = "5 + E"
