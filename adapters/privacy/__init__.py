"""Personal free text sealed per data subject (crypto-shredding), and its erasure.

* :mod:`.sealing`: AES-GCM (from ``cryptography``) seals one text under a subject's data key;
  data keys are wrapped by the key-encryption key (KEK) of the settings.
* :mod:`.vault`: the data keys, one live key per subject, in their own table (PostgreSQL) or
  file (SQLite, with ``secure_delete``), destroyed by an erasure.
* :mod:`.mapper`: the event store's mapper, which seals the declared fields on the way in and
  opens them (or shows them erased) on the way out, so the stored events, and the hash chain
  over them, only ever hold ciphertext.
* :mod:`.subjects`: what an erasure certificate lists: a subject's records and the fields that
  held sealed (or, written before sealing began, plain) text.
"""
