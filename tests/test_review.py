"""Draft review values checked against hand-computed ones."""

from ecomcopy.review import drop_near_duplicates, mean_overlap, overlap_matrix, review_draft


def test_review_coverage_copy_and_length():
    ref = "Fitted top in soft cotton jersey with a round neckline and short sleeves."
    r = review_draft("Soft jersey dresses in cotton jersey with a round neckline and short sleeves.", ["Dress", "Cotton", "V-neck"], ref)
    assert r.covered == ["Dress", "Cotton"]  # "dresses" stems to "dress"
    assert r.missing == ["V-neck"]
    assert abs(r.coverage - 2 / 3) < 1e-9
    assert r.copied == "cotton jersey with a round neckline and short"  # the first shared 8-word run
    assert r.words == 13
    assert "COPIES THE REFERENCE" in r.summary() and "keywords 2/3" in r.summary()
    clean = review_draft("A dress.", ["Dress"], ref)
    assert clean.copied is None and clean.coverage == 1.0 and "COPIES" not in clean.summary()


def test_no_keywords_counts_as_covered():
    assert review_draft("Anything.", [], "").coverage == 1.0


def test_overlap_and_near_duplicates():
    a = "Long dress in soft viscose with a tie belt."
    b = "Long dress in soft viscose with a tie belt!"  # same words
    c = "Chunky knitted jumper with dropped shoulders."
    m = overlap_matrix([a, b, c])
    assert m[0][1] == 1.0 and m[0][0] == 1.0 and m[0][2] < 0.2 and m[2][0] == m[0][2]
    assert drop_near_duplicates([a, b, c, ""]) == [a, c]
    assert mean_overlap([a]) is None
    assert abs(mean_overlap([a, b, c]) - (m[0][1] + m[0][2] + m[1][2]) / 3) < 1e-9
