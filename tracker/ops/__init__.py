"""Store maintenance: ``gc`` removes what crashes and compaction leave behind, ``doctor`` checks
a store and says what to do, ``conflicts`` finds and resolves registry version conflicts that a
git merge of two branches' stores can create.
"""
