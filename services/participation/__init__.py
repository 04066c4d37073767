"""The participation domain: processes (ideas, challenges, participatory budgets) opened by an administration, their
census, citizens' proposals in versions linked by hash and their supports, and ballots whose tally anyone can recount
from the published ballots and the chain (docs/participation.md)."""
