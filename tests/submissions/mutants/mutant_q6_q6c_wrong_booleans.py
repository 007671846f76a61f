# expect-fail: q6.answers.q6c
# hint: statement (iii)
# full fine-tuning believed always better
ANSWERS["q6c"] = [True, True, True, False]
