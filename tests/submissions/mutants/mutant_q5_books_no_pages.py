# expect-fail: q5.tokens_to_books.matches_reference
# hint: divide by pages_per_book
def tokens_to_books(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    return tokens / tokens_per_word / words_per_page
