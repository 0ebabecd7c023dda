"""Association: detection with the GENIE network, competitive assignment and location.

The stages are modules of this package, run in order by :mod:`.pipeline`.
"""

from seisbench_genie.association.params import AssociationParams, Region, parameter_docs
from seisbench_genie.association.pipeline import associate_table

__all__ = ["AssociationParams", "Region", "associate_table", "parameter_docs"]
