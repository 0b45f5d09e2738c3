DROP TABLE restatements;
DROP TABLE published_figures;
DROP TABLE fiscal_year_closes;
