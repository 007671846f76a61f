"""Hidden checks of q5_chinchilla: the Fermi numbers of ANSWERS (run only at grading time; never in
the student kit). Each is the homework's number for its scenario, within 2 % (FERMI_RTOL)."""
from hw11grader.authoring import check

from ..q5_chinchilla import answer_number


@check("q5.answers.q5d_books", answers="q5d_books")
def answer_q5d_books(sub):
    """The homework's number for q5d_books, within 2 %."""
    answer_number(sub, "q5d_books")


@check("q5.answers.q5e_gpus", answers="q5e_gpus")
def answer_q5e_gpus(sub):
    """The homework's number for q5e_gpus, within 2 %."""
    answer_number(sub, "q5e_gpus")


@check("q5.answers.q5f_ssd_dollars", answers="q5f_ssd_dollars")
def answer_q5f_ssd_dollars(sub):
    """The homework's number for q5f_ssd_dollars, within 2 %."""
    answer_number(sub, "q5f_ssd_dollars")


@check("q5.answers.q5f_dram_dollars", answers="q5f_dram_dollars")
def answer_q5f_dram_dollars(sub):
    """The homework's number for q5f_dram_dollars, within 2 %."""
    answer_number(sub, "q5f_dram_dollars")


@check("q5.answers.q5g_gpt6_seconds", answers="q5g_gpt6_seconds")
def answer_q5g_gpt6_seconds(sub):
    """The homework's number for q5g_gpt6_seconds, within 2 %."""
    answer_number(sub, "q5g_gpt6_seconds")


@check("q5.answers.q5g_gpt3_seconds", answers="q5g_gpt3_seconds")
def answer_q5g_gpt3_seconds(sub):
    """The homework's number for q5g_gpt3_seconds, within 2 %."""
    answer_number(sub, "q5g_gpt3_seconds")


@check("q5.answers.q5h_gpt3_dollars", answers="q5h_gpt3_dollars")
def answer_q5h_gpt3_dollars(sub):
    """The homework's number for q5h_gpt3_dollars, within 2 %."""
    answer_number(sub, "q5h_gpt3_dollars")


@check("q5.answers.q5h_gpt6_dollars", answers="q5h_gpt6_dollars")
def answer_q5h_gpt6_dollars(sub):
    """The homework's number for q5h_gpt6_dollars, within 2 %."""
    answer_number(sub, "q5h_gpt6_dollars")


@check("q5.answers.q5h_gpt6_days", answers="q5h_gpt6_days")
def answer_q5h_gpt6_days(sub):
    """The homework's number for q5h_gpt6_days, within 2 %."""
    answer_number(sub, "q5h_gpt6_days")


@check("q5.answers.q5j_dollars", answers="q5j_dollars")
def answer_q5j_dollars(sub):
    """The homework's number for q5j_dollars, within 2 %."""
    answer_number(sub, "q5j_dollars")


@check("q5.answers.q5j_essays", answers="q5j_essays")
def answer_q5j_essays(sub):
    """The homework's number for q5j_essays, within 2 %."""
    answer_number(sub, "q5j_essays")


@check("q5.answers.q5k_ratio", answers="q5k_ratio")
def answer_q5k_ratio(sub):
    """The homework's number for q5k_ratio, within 2 %."""
    answer_number(sub, "q5k_ratio")


@check("q5.answers.q5l_burgers", answers="q5l_burgers")
def answer_q5l_burgers(sub):
    """The homework's number for q5l_burgers, within 2 %."""
    answer_number(sub, "q5l_burgers")
