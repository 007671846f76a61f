# expect-fail: q7.answers.q7a_phone
ANSWERS["q7a_phone"] = "fine_grained"
