"""Delivery: fingerprinted extracts, leak tracing and the Delta Sharing protocol (issue 9).

* :mod:`dataex.delivery.fingerprint` — the keyed marking scheme (row identity, selection, embed, read)
* :mod:`dataex.delivery.tardos` — the collusion-resistant code and its accusation p-value
* :mod:`dataex.delivery.tolerances` — the columns a dataset's owner declares tolerable
* :mod:`dataex.delivery.extracts` — ``extract()``: authorize, fingerprint, charge, write, log
* :mod:`dataex.delivery.trace` — ``trace()``: a leaked file back to its contract
* :mod:`dataex.delivery.sharing` — Delta Sharing profiles, responses and pre-signed URLs
"""
